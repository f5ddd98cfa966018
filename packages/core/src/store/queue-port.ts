import type { ObjectId } from 'mongodb'

/**
 * What a runner needs of a work queue, and the shapes it deals in. WorkQueue (queue.ts) keeps it in MongoDB; the
 * runner's spec keeps one in memory. Processors see none of it: the runner holds the lease for them.
 */
export type JobKind = 'images' | 'finish' | 'webhook' | 'retention'
/** `cancelled`: its request was cancelled; never claimed, and its holder's next fenced write fails. */
export type JobState = 'held' | 'waiting' | 'pending' | 'running' | 'done' | 'failed' | 'cancelled'

export interface JobDocument<D = Record<string, unknown>> {
  _id: ObjectId
  kind: JobKind
  /** Unique: enqueueing a key twice is a no-op, so producers may retry and racing producers agree. */
  key: string
  request_id?: string
  state: JobState
  /**
   * When the job can next be claimed: its run time while pending, its lease expiry while running; absent while
   * waiting, done or failed. The one (sparse) indexed field a claim filters and sorts on.
   */
  due_at?: Date
  owner?: string | null
  /** Fencing token: incremented by every claim; every write by a holder names the generation it claimed. */
  generation: number
  /** Claims that did not end in an orderly way, the current one included (releases give theirs back). */
  claims: number
  /** A job that waits for `needed` distinct parts to arrive before it becomes pending (a request's finisher). */
  barrier?: { needed: number; arrived: number[] }
  data: D
  error?: string
  created_at: Date
  updated_at: Date
  finished_at?: Date
  /** Which worker completed it (operations, and the tests that check work was spread). */
  finished_by?: string
}

export interface NewJob<D> {
  kind: JobKind
  key: string
  request_id?: string
  data: D
  /** Not before this time (default: now). */
  runAt?: Date
  /** Parts that must arrive (`arrive`) before the job can run; 0 or absent: it can run at once. */
  waitFor?: number
  /** Stored but not claimable until `releaseHeld` (a producer storing several documents makes them live together). */
  held?: boolean
}

/** What a runner holds while it works a job: the job as claimed, and the generation its writes are fenced by. */
export interface Lease<D = Record<string, unknown>> {
  job: JobDocument<D>
  owner: string
  generation: number
  leaseMs: number
}

/**
 * Fields of a job's data to set, by path inside the data (`tally`, `images.3`). Made by the typed record
 * functions of jobs.ts from what a processor reports; the queue writes it fenced by the holder's claim.
 */
export type JobPatch = Readonly<Record<string, unknown>>

/** Part `part` of the waiting job `barrier` (a key) is complete. */
export interface Arrival {
  barrier: string
  part: number
}

/** How a job comes back for another run: `forgetCrashes` clears the count of claims that ended in a crash. */
export interface ReleaseOptions {
  forgetCrashes?: boolean
}

/** The queue as a runner uses it: claim, keep and end leases, complete barriers, and hear of new work. */
export interface JobQueue {
  /** Now, by the clock every holder's leases are compared with. */
  now(): Date
  syncClock(): Promise<unknown>
  /** The oldest due job of `kinds`, or one whose lease ran out; null when there is none. */
  claim<D>(owner: string, kinds: JobKind[], leaseMs: number): Promise<Lease<D> | null>
  /** Every write below is fenced by the lease: false (and nothing written) once another holder has the job. */
  heartbeat(lease: Lease<unknown>): Promise<boolean>
  /** Progress: the patch, and a longer lease. */
  save(lease: Lease<unknown>, patch?: JobPatch): Promise<boolean>
  complete(lease: Lease<unknown>, patch?: JobPatch): Promise<boolean>
  fail(lease: Lease<unknown>, reason: string, patch?: JobPatch): Promise<boolean>
  /** Hands the job back to run at `at` (default now) without counting a crash. */
  release(lease: Lease<unknown>, at?: Date, patch?: JobPatch, options?: ReleaseOptions): Promise<boolean>
  /** Idempotent: a part arriving twice counts once; the last distinct part makes the barrier's job pending. */
  arrive(arrival: Arrival): Promise<void>
  /** When the next job becomes claimable (a scheduled run, a lease running out), if any is in sight. */
  nextDueAt(): Promise<Date | null>
  /** Calls `onWork` whenever a job becomes pending; null where the store cannot tell (the runner polls). */
  watch(onWork: () => void, onError: (err: unknown) => void): Promise<{ close(): Promise<void> } | null>
}
