export type FlushResult = 'ok' | 'lease-lost'

/**
 * Collects finished items and writes them in batches (every `maxBatch` items or `intervalMs`), so a large unit
 * costs a few writes per second rather than one per image. A failed write keeps its batch for the next flush:
 * nothing finished is forgotten while the database is away. Writes go through one chain, never two at once.
 */
export class ProgressBatcher<T> {
  private pending: T[] = []
  private timer: NodeJS.Timeout | null = null
  private chain: Promise<FlushResult> = Promise.resolve('ok')
  /** Once a write finds the work taken over, every later flush says so (a dropped batch must never read as 'ok'). */
  private lost = false
  private stopped = false
  writes = 0

  constructor(
    private readonly write: (items: T[]) => Promise<boolean>,
    private readonly options: {
      maxBatch: number
      intervalMs: number
      onError: (err: unknown) => void
      onLeaseLost: () => void
    }
  ) {}

  add(item: T): void {
    if (this.stopped) return
    this.pending.push(item)
    if (this.pending.length >= this.options.maxBatch) this.flushInBackground()
    else this.timer ??= setTimeout(() => this.flushInBackground(), this.options.intervalMs)
  }

  get size(): number {
    return this.pending.length
  }

  private flushInBackground(): void {
    this.flush().catch(() => undefined) // reported through onError; the batch stays queued
  }

  /** Writes what is queued; resolves 'lease-lost' when another worker now holds the work. Throws on DB errors. */
  flush(): Promise<FlushResult> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.chain = this.chain.catch(() => 'ok' as const).then(() => this.writeBatch())
    return this.chain
  }

  /** The last batch must land before the work can be called done: retried through database outages. */
  async flushUntilWritten(): Promise<FlushResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.flush()
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
      }
    }
  }

  private async writeBatch(): Promise<FlushResult> {
    if (this.lost) return 'lease-lost'
    const batch = this.pending
    if (batch.length === 0) return 'ok'
    this.pending = []
    try {
      this.writes += 1
      if (await this.write(batch)) return 'ok'
      this.lost = true
      this.options.onLeaseLost()
      return 'lease-lost'
    } catch (err) {
      this.pending = batch.concat(this.pending)
      this.options.onError(err)
      if (!this.stopped) this.timer ??= setTimeout(() => this.flushInBackground(), this.options.intervalMs)
      throw err
    }
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}
