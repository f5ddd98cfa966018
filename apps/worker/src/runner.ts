import {
  isDatabaseUnavailable,
  type JobDocument,
  type JobKind,
  type JobUpdate,
  type Lease,
  type Metrics,
  type WorkQueue
} from '@imgproc/core'
import { StorageError } from '@imgproc/storage'
import type { ChangeStream } from 'mongodb'
import type { Logger } from 'pino'
import { Wakeup } from './wakeup.ts'

/** How a processor's run ended; the runner turns it into the one queue write that ends the claim. */
export type Outcome =
  | { kind: 'done'; update?: JobUpdate }
  /** Run again at `at` (a webhook retry, the next retention sweep); not counted as a failed claim. */
  | { kind: 'retry'; at: Date; update?: JobUpdate; forgetCrashes?: boolean }
  /** Handed back unfinished because the worker is shutting down. */
  | { kind: 'released' }
  | { kind: 'failed'; reason: string; update?: JobUpdate }
  /** Another worker holds the job now: write nothing more. */
  | { kind: 'lost' }

export interface JobContext<D> {
  job: JobDocument<D>
  log: Logger
  /** Aborted when the lease is lost or the worker shuts down: stop starting new work. */
  signal: AbortSignal
  shuttingDown(): boolean
  /** A progress write fenced by this claim (it extends the lease too); false once the lease is lost. */
  save(update: JobUpdate): Promise<boolean>
}

/** A plain function of one job, BullMQ-style: it knows nothing of leases, heartbeats or claims. */
// biome-ignore lint/suspicious/noExplicitAny: the runner holds processors of every job kind in one list
export interface Processor<D = any> {
  kind: JobKind
  /** Jobs of this kind one worker holds at once. */
  concurrency: number
  process(ctx: JobContext<D>): Promise<Outcome>
  /** Instead of `process`, for a job whose earlier holders all died (MAX_CLAIMS): end it with a reason. */
  exhausted(ctx: JobContext<D>, reason: string): Promise<Outcome>
}

export interface RunnerOptions {
  owner: string
  leaseMs: number
  maxClaims: number
  /** Poll interval without change streams (a standalone mongod), and the back-off after a database error. */
  pollMs: number
  /** Longest idle wait with change streams: a safety net; expired leases are found by their due time. */
  maxIdleMs: number
  log: Logger
  metrics: Metrics
}

/**
 * One loop for every job kind: claim while a kind has a free slot, run the processor under a heartbeating
 * lease, end the claim with the outcome. Idle, it sleeps until a change stream says a job became pending, a
 * slot frees up, or the next known due time (a scheduled retry, a lease that may run out) arrives.
 */
export class Runner {
  private readonly processors: Map<JobKind, Processor>
  private readonly active = new Map<JobKind, number>()
  private readonly running = new Set<Promise<void>>()
  private readonly wakeup = new Wakeup()
  private readonly shutdown = new AbortController()
  private stream: ChangeStream | null = null
  private loop: Promise<void> = Promise.resolve()
  mode: 'change-stream' | 'polling' = 'polling'

  constructor(
    private readonly queue: WorkQueue,
    processors: Processor[],
    private readonly options: RunnerOptions
  ) {
    this.processors = new Map(processors.map((p) => [p.kind, p]))
  }

  async start(): Promise<void> {
    await this.queue.syncClock().catch(() => undefined) // again with every stream (re)open
    await this.openStream()
    this.loop = this.run()
  }

  /** Stops claiming, lets running jobs end (processors hand back what they cannot finish), then resolves. */
  async close(): Promise<void> {
    this.shutdown.abort()
    this.wakeup.wake()
    await this.loop
    await Promise.all(this.running)
    await this.stream?.close().catch(() => undefined)
  }

  /**
   * Opens the change stream; while it cannot be opened (database away) or after it broke, the runner polls and
   * tries again with back-off. Once open it wakes the loop, for events that happened in the gap.
   */
  private async openStream(attempt = 0): Promise<void> {
    const retry = () => {
      this.mode = 'polling'
      const delay = Math.min(30_000, this.options.pollMs * 4 * 2 ** Math.min(attempt, 6))
      setTimeout(() => void (this.shutdown.signal.aborted || this.openStream(attempt + 1)), delay).unref()
    }
    try {
      this.stream = await this.queue.watch(
        () => this.wakeup.wake(),
        (err) => {
          this.options.log.warn({ err: (err as Error).message }, 'change stream closed; polling until it is reopened')
          this.stream?.close().catch(() => undefined)
          this.stream = null
          retry()
        }
      )
      this.mode = this.stream ? 'change-stream' : 'polling' // null: a standalone server, polling for good
      if (this.stream) {
        await this.queue.syncClock().catch(() => undefined)
        this.wakeup.wake()
      }
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, 'could not open a change stream yet; polling')
      retry()
    }
  }

  private freeKinds(): JobKind[] {
    return [...this.processors.values()]
      .filter((p) => (this.active.get(p.kind) ?? 0) < p.concurrency)
      .map((p) => p.kind)
  }

  private async run(): Promise<void> {
    const { log, pollMs } = this.options
    while (!this.shutdown.signal.aborted) {
      try {
        const kinds = this.freeKinds()
        if (kinds.length > 0) this.options.metrics.claimQueries.inc()
        const lease =
          kinds.length > 0
            ? await this.queue.claim<Record<string, unknown>>(this.options.owner, kinds, this.options.leaseMs)
            : null
        if (lease) {
          this.launch(lease)
          continue
        }
        await this.wakeup.wait(kinds.length === 0 ? this.options.maxIdleMs : await this.idleMs(), this.shutdown.signal)
      } catch (err) {
        log.error({ err: (err as Error).message }, 'claim failed; retrying')
        await this.wakeup.wait(Math.max(1000, pollMs), this.shutdown.signal)
      }
    }
  }

  private async idleMs(): Promise<number> {
    if (this.mode === 'polling') return this.options.pollMs
    const next = await this.queue.nextDueAt()
    const untilDue = next ? next.getTime() - this.queue.now().getTime() + 5 : this.options.maxIdleMs
    return Math.max(5, Math.min(this.options.maxIdleMs, untilDue))
  }

  private launch(lease: Lease): void {
    const kind = lease.job.kind
    this.active.set(kind, (this.active.get(kind) ?? 0) + 1)
    this.options.metrics.claims.inc({ kind })
    if (lease.job.claims > 1) this.options.metrics.leaseTakeovers.inc({ kind })
    const done = this.work(lease).finally(() => {
      this.active.set(kind, this.active.get(kind)! - 1)
      this.running.delete(done)
      this.wakeup.wake()
    })
    this.running.add(done)
  }

  private async work(lease: Lease): Promise<void> {
    const processor = this.processors.get(lease.job.kind)!
    const log = this.options.log.child({
      job: lease.job.key,
      kind: lease.job.kind,
      ...(lease.job.request_id ? { request_id: lease.job.request_id } : {})
    })
    const lost = new AbortController()
    const markLost = () => lost.abort()
    let beating = false // one heartbeat at a time: with a slow database they would pile up
    const heartbeat = setInterval(
      () => {
        if (beating) return
        beating = true
        this.queue
          .heartbeat(lease)
          .then(
            (held) => held || markLost(),
            (err) => log.warn({ err: (err as Error).message }, 'heartbeat failed')
          )
          .finally(() => (beating = false))
      },
      Math.max(100, Math.floor(this.options.leaseMs / 3))
    )
    const ctx: JobContext<unknown> = {
      job: lease.job,
      log,
      signal: AbortSignal.any([lost.signal, this.shutdown.signal]),
      shuttingDown: () => this.shutdown.signal.aborted,
      save: async (update) => {
        if (await this.queue.save(lease, update)) return true
        markLost()
        return false
      }
    }
    try {
      const exhausted = lease.job.claims > this.options.maxClaims
      const outcome = exhausted
        ? await processor.exhausted(
            ctx,
            `abandoned: processing was interrupted ${lease.job.claims - 1} times (MAX_CLAIMS=${this.options.maxClaims})`
          )
        : await processor.process(ctx)
      clearInterval(heartbeat)
      if (outcome.kind === 'lost' || lost.signal.aborted) return void log.warn('lease lost to another worker; stopped')
      await this.settle(lease, outcome, log)
    } catch (err) {
      if (isInfrastructureError(err)) {
        // The database or storage is away, not the job's fault: hand it back for later without counting a crash
        // (if even that fails, the lease runs out and it is counted; a long outage should not fail images).
        log.warn({ err: (err as Error).message }, 'job interrupted by an outage; handed back for later')
        await this.queue
          .release(lease, new Date(this.queue.now().getTime() + Math.max(5000, this.options.pollMs * 10)))
          .catch(() => undefined)
      } else {
        // A bug or something unforeseen: leave the lease to run out, like a crash, so the job is retried later and
        // counted towards MAX_CLAIMS if it keeps failing.
        log.error({ err }, 'job failed unexpectedly; it will be retried when its lease runs out')
      }
    } finally {
      clearInterval(heartbeat)
      lost.abort() // whatever the processor still has running stops starting new work
    }
  }

  /** Ends the claim; retried through database outages, since the work it records is already done. */
  private async settle(lease: Lease, outcome: Exclude<Outcome, { kind: 'lost' }>, log: Logger): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const held = await (outcome.kind === 'done'
          ? this.queue.complete(lease, outcome.update)
          : outcome.kind === 'retry'
            ? this.queue.release(lease, outcome.at, outcome.update, { forgetCrashes: outcome.forgetCrashes })
            : outcome.kind === 'released'
              ? this.queue.release(lease)
              : this.queue.fail(lease, outcome.reason, outcome.update))
        if (!held) log.warn('lease lost before the outcome was recorded')
        return
      } catch (err) {
        log.warn({ err: (err as Error).message, attempt }, 'could not record the outcome yet; retrying')
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
      }
    }
  }
}

/** The database or the storage is away, as opposed to errors of the job or of our code. */
function isInfrastructureError(err: unknown): boolean {
  return (err instanceof StorageError && err.kind !== 'invalid-key') || isDatabaseUnavailable(err)
}
