import type { ImageUpdate } from './repository.ts'

export type FlushResult = 'ok' | 'lease-lost'

/**
 * Collects finished images and writes them in batches (every `maxBatch` images or `intervalMs`), so a large
 * request costs a few writes per second rather than one per image. A failed write keeps its batch for the next
 * flush: nothing finished is forgotten while the database is away. Every write to the request, heartbeats
 * included, goes through this one chain, so no two of them are ever in flight together.
 */
export class ProgressBatcher {
  private pending: ImageUpdate[] = []
  private timer: NodeJS.Timeout | null = null
  private chain: Promise<FlushResult> = Promise.resolve('ok')
  writes = 0

  constructor(
    private readonly write: (updates: ImageUpdate[]) => Promise<boolean>,
    private readonly options: { maxBatch: number; intervalMs: number; onError: (err: unknown) => void; onLeaseLost: () => void }
  ) {}

  add(update: ImageUpdate): void {
    this.pending.push(update)
    if (this.pending.length >= this.options.maxBatch) this.flushInBackground()
    else this.timer ??= setTimeout(() => this.flushInBackground(), this.options.intervalMs)
  }

  get size(): number {
    return this.pending.length
  }

  private flushInBackground(): void {
    this.flush().catch(() => undefined) // reported through onError; the batch stays queued
  }

  /** Extends the lease (writing whatever is queued with it). */
  heartbeat(): Promise<FlushResult> {
    return this.flush(true)
  }

  /** Writes what is queued; resolves 'lease-lost' when another worker now owns the request. Throws on DB errors. */
  flush(evenIfEmpty = false): Promise<FlushResult> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.chain = this.chain.catch(() => 'ok' as const).then(() => this.writeBatch(evenIfEmpty))
    return this.chain
  }

  private async writeBatch(evenIfEmpty: boolean): Promise<FlushResult> {
    const batch = this.pending
    if (batch.length === 0 && !evenIfEmpty) return 'ok'
    this.pending = []
    try {
      this.writes += 1
      if (await this.write(batch)) return 'ok'
      this.options.onLeaseLost()
      return 'lease-lost'
    } catch (err) {
      this.pending = batch.concat(this.pending)
      this.options.onError(err)
      this.timer ??= setTimeout(() => this.flushInBackground(), this.options.intervalMs)
      throw err
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
