import { isDatabaseUnavailable, type JobQueue, type Lease } from '@imgproc/core'
import { isStorageOutage, type StorageHealth } from '@imgproc/storage'
import type { Logger } from 'pino'
import { type JobContext, JobTakenOver, type Outcome, type Processor } from './jobs/contract.ts'

/**
 * One claimed job, from the claim to the write that ends it: the context its processor runs with, a heartbeat
 * that keeps the lease, and the outcome turned into fenced writes. Every write names the claim's generation, so
 * a run whose lease ran out (its job taken over) writes nothing more.
 */
export class Claim<D = Record<string, unknown>> {
  readonly context: JobContext<D>
  private readonly takenOver = new AbortController()
  private readonly ended = new AbortController()

  constructor(
    private readonly queue: JobQueue,
    private readonly lease: Lease<D>,
    log: Logger,
    shutdown: AbortSignal
  ) {
    this.context = {
      data: lease.job.data,
      requestId: lease.job.request_id,
      resumed: lease.job.claims > 1,
      rerun: lease.generation > 1,
      log,
      signal: AbortSignal.any([this.takenOver.signal, this.ended.signal, shutdown]),
      shuttingDown: () => shutdown.aborted,
      save: async (record) => {
        if (!this.takenOver.signal.aborted && (await queue.save(lease, record))) return
        this.takenOver.abort()
        throw new JobTakenOver()
      }
    }
  }

  /** True once a write or a heartbeat found another holder. */
  get isTakenOver(): boolean {
    return this.takenOver.signal.aborted
  }

  /** Renews the lease every `everyMs`, one heartbeat at a time (with a slow database they would pile up). */
  keepAlive(everyMs: number, log: Logger): () => void {
    let beating = false
    const timer = setInterval(() => {
      if (beating) return
      beating = true
      this.queue
        .heartbeat(this.lease)
        .then(
          (held) => held || this.takenOver.abort(),
          (err) => log.warn({ err: (err as Error).message }, 'heartbeat failed')
        )
        .finally(() => (beating = false))
    }, everyMs)
    return () => clearInterval(timer)
  }

  /**
   * The writes an outcome stands for; false if the job was taken over first. With an arrival, the record lands
   * in a fenced write before the barrier hears of it (so a barrier never counts a part whose records could be
   * lost), and the job ends after: a crash in between leaves it to run again, and arriving twice counts once.
   */
  async end(outcome: Outcome): Promise<boolean> {
    const { queue, lease } = this
    if (outcome.kind === 'released') return queue.release(lease)
    let record = outcome.record
    if (outcome.kind !== 'retry' && outcome.arrive) {
      if (!(await queue.save(lease, record))) return false
      await queue.arrive(outcome.arrive)
      record = undefined
    }
    if (outcome.kind === 'done') return queue.complete(lease, record)
    if (outcome.kind === 'retry')
      return queue.release(lease, outcome.at, record, { forgetCrashes: outcome.forgetCrashes ?? false })
    return queue.fail(lease, outcome.reason, record)
  }

  /** Hands the job back to run at `at` without counting a crash (an outage interrupted it). */
  handBack(at: Date): Promise<boolean> {
    return this.queue.release(this.lease, at)
  }

  /** The run is over: whatever the processor left running starts no new work. */
  close(): void {
    this.ended.abort()
  }
}

export interface RunOptions {
  log: Logger
  leaseMs: number
  maxClaims: number
  /** After an outage, the job is handed back for at least 10 × this (and 5 s), unless `handBackDelayMs` says. */
  pollMs: number
  /** How long a job interrupted by this outage waits before it is tried again. */
  handBackDelayMs?: (err: unknown) => number
  shutdown: AbortSignal
}

const MAX_HAND_BACK_MS = 60_000

/**
 * The pause before work interrupted by an outage runs again: 10 polls (at least 5 s); after a storage outage, as
 * long as the outage has lasted so far, up to a minute. A short outage costs a short wait; a long one is not
 * hammered by every held unit every few seconds.
 */
export function handBackDelayMs(err: unknown, health: StorageHealth | null, pollMs: number, now = Date.now()): number {
  const base = Math.max(5000, pollMs * 10)
  if (!isStorageOutage(err) || !health) return base
  return Math.min(MAX_HAND_BACK_MS, Math.max(base, health.failingForMs(now)))
}

/**
 * Runs one claimed job to its end. An outage of the database or storage hands the job back for later without
 * counting a crash (a long outage must not fail images); anything unforeseen (a bug) leaves the lease to run out,
 * like a crash, so the job is retried later and counted towards MAX_CLAIMS if it keeps failing.
 */
export async function runClaim(queue: JobQueue, lease: Lease, processor: Processor, options: RunOptions) {
  const { log } = options
  const claim = new Claim(queue, lease, log, options.shutdown)
  const stopHeartbeat = claim.keepAlive(Math.max(100, Math.floor(options.leaseMs / 3)), log)
  try {
    const outcome =
      lease.job.claims > options.maxClaims
        ? await processor.exhausted(
            claim.context,
            `abandoned: processing was interrupted ${lease.job.claims - 1} times (MAX_CLAIMS=${options.maxClaims})`
          )
        : await processor.process(claim.context)
    stopHeartbeat()
    if (claim.isTakenOver) return void log.warn('lease lost to another worker; stopped')
    if (!(await settle(claim, outcome, log))) log.warn('lease lost before the outcome was recorded')
  } catch (err) {
    if (err instanceof JobTakenOver) log.warn('lease lost to another worker; stopped')
    else if (isInfrastructureError(err)) {
      const delay = options.handBackDelayMs?.(err) ?? handBackDelayMs(err, null, options.pollMs)
      log.warn(
        { err: (err as Error).message, retry_in_ms: delay },
        'job interrupted by an outage; handed back for later'
      )
      // If even that fails, the lease runs out and the claim is counted.
      await claim.handBack(new Date(queue.now().getTime() + delay)).catch(() => undefined)
    } else log.error({ err }, 'job failed unexpectedly; it will be retried when its lease runs out')
  } finally {
    stopHeartbeat()
    claim.close()
  }
}

/** Ends the claim; retried through database outages, since the work it records is already done. */
async function settle(claim: Claim, outcome: Outcome, log: Logger): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await claim.end(outcome)
    } catch (err) {
      log.warn({ err: (err as Error).message, attempt }, 'could not record the outcome yet; retrying')
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
    }
  }
}

/** The database or the storage is away, as opposed to errors of the job or of our code. */
function isInfrastructureError(err: unknown): boolean {
  return isStorageOutage(err) || isDatabaseUnavailable(err)
}
