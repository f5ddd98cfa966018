import type { Collection, Db } from 'mongodb'
import { isDuplicateKey } from './mongo.ts'

export type QuotaName = 'requests_per_hour' | 'images_per_day'

export const QUOTA_WINDOW_MS: Record<QuotaName, number> = { requests_per_hour: 3_600_000, images_per_day: 86_400_000 }

interface UsageDocument {
  _id: string
  used: number
  expires_at: Date
}

/** `never`: the amount alone passes the limit, so waiting will not help. `windowStart` lets giveBack credit the same window. */
export type QuotaDecision =
  | { ok: true; windowStart: number }
  | { ok: false; retryAfterS: number; limit: number; never: boolean }

/**
 * Per-tenant usage in fixed windows (the hour, the UTC day), shared by every API replica. Taking is one atomic
 * update that only matches while the result stays within the limit; when it would not, the upsert collides with
 * the window's document and the answer is no, so concurrent uploads can never overshoot. Expired windows are
 * removed by a TTL index.
 */
export class QuotaStore {
  private readonly usage: Collection<UsageDocument>

  constructor(db: Db) {
    this.usage = db.collection<UsageDocument>('quota_usage')
  }

  async ensureIndexes(): Promise<void> {
    await this.usage.createIndex({ expires_at: 1 }, { expireAfterSeconds: 0 })
  }

  async take(
    tenant: string,
    quota: QuotaName,
    amount: number,
    limit: number,
    nowMs = Date.now()
  ): Promise<QuotaDecision> {
    const window = QUOTA_WINDOW_MS[quota]
    const start = Math.floor(nowMs / window) * window
    if (limit <= 0) return { ok: true, windowStart: start }
    const refused = {
      ok: false as const,
      retryAfterS: Math.max(1, Math.ceil((start + window - nowMs) / 1000)),
      limit,
      never: false
    }
    if (amount > limit) return { ...refused, never: true }
    try {
      await this.usage.updateOne(
        { _id: key(tenant, quota, start), used: { $lte: limit - amount } },
        { $inc: { used: amount }, $setOnInsert: { expires_at: new Date(start + window) } },
        { upsert: true }
      )
      return { ok: true, windowStart: start }
    } catch (err) {
      if (isDuplicateKey(err)) return refused
      throw err
    }
  }

  /**
   * The first quota of `limits` with nothing left in its current window, or null: read before an upload's body,
   * so a tenant that could not be granted even one more upload (or image) is refused without being read. `take`
   * still decides, atomically, once the body says how much is asked.
   */
  async exhausted(
    tenant: string,
    limits: Record<QuotaName, number>,
    nowMs = Date.now()
  ): Promise<{ quota: QuotaName; limit: number; retryAfterS: number } | null> {
    const windows = (Object.keys(limits) as QuotaName[])
      .filter((quota) => limits[quota] > 0)
      .map((quota) => {
        const window = QUOTA_WINDOW_MS[quota]
        const start = Math.floor(nowMs / window) * window
        return { quota, id: key(tenant, quota, start), end: start + window }
      })
    if (windows.length === 0) return null
    const usage = await this.usage.find({ _id: { $in: windows.map((w) => w.id) } }).toArray()
    for (const w of windows) {
      const used = usage.find((u) => u._id === w.id)?.used ?? 0
      if (used >= limits[w.quota])
        return { quota: w.quota, limit: limits[w.quota], retryAfterS: Math.max(1, Math.ceil((w.end - nowMs) / 1000)) }
    }
    return null
  }

  /** Gives back what `take` took (in the window it took it from), when a later step refuses the same upload. */
  async giveBack(tenant: string, quota: QuotaName, amount: number, windowStart: number): Promise<void> {
    await this.usage.updateOne({ _id: key(tenant, quota, windowStart) }, { $inc: { used: -amount } })
  }
}

const key = (tenant: string, quota: QuotaName, start: number) => `${tenant}:${quota}:${start}`
