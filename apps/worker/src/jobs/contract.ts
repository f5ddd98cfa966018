import type { Arrival, JobKind, JobPatch } from '@imgproc/core'
import type { Logger } from 'pino'

/**
 * What a processor sees of its job and what it returns, BullMQ-style: a plain function of one job that knows
 * nothing of leases, generations or claims. The runner holds the lease and turns the outcome into the one write
 * that ends the claim; the patches come from @imgproc/core's typed record functions (store/jobs.ts).
 */
export type Outcome =
  /** `record` is written with the outcome; with `arrive`, first, and the barrier hears of it before the job ends. */
  | { kind: 'done'; record?: JobPatch; arrive?: Arrival }
  /** Run again at `at` (a webhook retry, the next retention sweep); not counted as a crash. */
  | { kind: 'retry'; at: Date; record?: JobPatch; forgetCrashes?: boolean }
  /** Handed back unfinished because the worker is shutting down. */
  | { kind: 'released' }
  | { kind: 'failed'; reason: string; record?: JobPatch; arrive?: Arrival }

export interface JobContext<D> {
  /** The job's data as claimed, with what earlier runs recorded. */
  data: D
  /** The request the job belongs to (every kind but the retention sweep). */
  requestId: string | undefined
  /** An earlier run of this job died part-way: what it was writing may be left half-done. */
  resumed: boolean
  /**
   * An earlier run of this job ended without finishing it (handed back, or died): outputs it stored may have no
   * record yet.
   */
  rerun: boolean
  log: Logger
  /** Aborted when the job was taken over or the worker shuts down: start no new work. */
  signal: AbortSignal
  shuttingDown(): boolean
  /**
   * Records progress (and keeps the job), durably before it resolves. With no patch it only confirms the job is
   * still this run's, before a side effect outside the database. Throws JobTakenOver once another worker has the
   * job: the run then ends, and writes nothing more.
   */
  save(record?: JobPatch): Promise<void>
}

/** One kind of job's processor. */
// biome-ignore lint/suspicious/noExplicitAny: the runner holds processors of every job kind in one list
export interface Processor<D = any> {
  kind: JobKind
  /** Jobs of this kind one worker holds at once. */
  concurrency: number
  process(ctx: JobContext<D>): Promise<Outcome>
  /** Instead of `process`, for a job whose earlier runs all died (MAX_CLAIMS): end it with a reason. */
  exhausted(ctx: JobContext<D>, reason: string): Promise<Outcome>
}

/** The job was taken over by another worker (this run's lease ran out): stop, and write nothing more. */
export class JobTakenOver extends Error {
  override name = 'JobTakenOver'
  readonly kind = 'taken-over'
  constructor() {
    super('the job was taken over by another worker')
  }
}
