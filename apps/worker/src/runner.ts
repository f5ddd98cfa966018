import type { JobKind, JobQueue, Lease, Metrics } from '@imgproc/core'
import type { Logger } from 'pino'
import { runClaim } from './claim.ts'
import type { Processor } from './jobs/contract.ts'
import { Wakeup } from './wakeup.ts'

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
  /** How long work interrupted by an outage waits before it runs again (claim.ts's handBackDelayMs by default). */
  handBackDelayMs?: (err: unknown) => number
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
  private stream: { close(): Promise<void> } | null = null
  private loop: Promise<void> = Promise.resolve()
  mode: 'change-stream' | 'polling' = 'polling'

  constructor(
    private readonly queue: JobQueue,
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

  private work(lease: Lease): Promise<void> {
    const { log, leaseMs, maxClaims, pollMs } = this.options
    const job = lease.job
    return runClaim(this.queue, lease, this.processors.get(job.kind)!, {
      log: log.child({ job: job.key, kind: job.kind, ...(job.request_id ? { request_id: job.request_id } : {}) }),
      leaseMs,
      maxClaims,
      pollMs,
      ...(this.options.handBackDelayMs ? { handBackDelayMs: this.options.handBackDelayMs } : {}),
      shutdown: this.shutdown.signal
    })
  }
}
