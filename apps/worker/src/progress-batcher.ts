import { JobTakenOver } from './jobs/contract.ts'

/**
 * Collects finished items and writes them in batches (every `maxBatch` items or `intervalMs`), so a large unit
 * costs a few writes per second rather than one per image. A failed write keeps its batch for the next flush:
 * nothing finished is forgotten while the database is away. Writes go through one chain, never two at once.
 * Once a write finds the job taken over, nothing more is written and every flush says so.
 */
export class ProgressBatcher<T> {
  private pending: T[] = []
  private timer: NodeJS.Timeout | null = null
  private chain: Promise<void> = Promise.resolve()
  private takenOver = false
  private stopped = false
  writes = 0

  constructor(
    /** Writes a batch; rejects with JobTakenOver once the job is another worker's. */
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: { maxBatch: number; intervalMs: number; onError: (err: unknown) => void }
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

  /** Writes what is queued. Rejects with JobTakenOver, or with the database's error (the batch is kept). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.chain = this.chain.catch(() => undefined).then(() => this.writeBatch())
    return this.chain
  }

  /** The last batch must land before the work can be called done: retried through database outages. */
  async flushUntilWritten(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.flush()
      } catch (err) {
        if (err instanceof JobTakenOver) throw err
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
      }
    }
  }

  private async writeBatch(): Promise<void> {
    if (this.takenOver) throw new JobTakenOver()
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    try {
      this.writes += 1
      await this.write(batch)
    } catch (err) {
      if (err instanceof JobTakenOver) {
        this.takenOver = true // its records are the new holder's to make now
        throw err
      }
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
