import type { ChangeStream, Collection, Db, Filter, ObjectId, UpdateFilter } from 'mongodb'
import { insertMissing } from './mongo.ts'

/**
 * The work queue: the one place that claims, leases, fences and wakes work of every kind (image work units,
 * request finishing, webhook deliveries, retention sweeps). Processors never see a lease; the worker's runner
 * holds it for them.
 */
export type JobKind = 'images' | 'finish' | 'webhook' | 'retention'
export type JobState = 'held' | 'waiting' | 'pending' | 'running' | 'done' | 'failed'

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

/** Extra operators for a fenced write ($set, $push, …), merged with the queue's own bookkeeping. */
export type JobUpdate = Pick<UpdateFilter<JobDocument>, '$set' | '$push' | '$inc' | '$unset'>

export class WorkQueue {
  readonly jobs: Collection<JobDocument>
  /** Server time minus local time: leases are compared across hosts, so every holder uses the server's clock. */
  private clockOffsetMs = 0

  constructor(db: Db) {
    this.jobs = db.collection<JobDocument>('jobs')
  }

  /** Now, by the database server's clock (see syncClock). */
  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs)
  }

  /** Measures this host's clock against the server's (half the round trip is the error bound). */
  async syncClock(): Promise<number> {
    const sent = Date.now()
    const hello = await this.jobs.db.admin().command({ hello: 1 })
    const received = Date.now()
    if (hello.localTime instanceof Date) this.clockOffsetMs = hello.localTime.getTime() - (sent + received) / 2
    return this.clockOffsetMs
  }

  async ensureIndexes(): Promise<void> {
    await this.jobs.createIndex({ key: 1 }, { unique: true })
    // Partial: only open jobs carry due_at, so the claim indexes stay as small as the backlog. By kind first, so a
    // worker whose image slots are full finds a due webhook without walking past every due image unit.
    await this.jobs.createIndex({ kind: 1, due_at: 1 }, { partialFilterExpression: { due_at: { $exists: true } } })
    await this.jobs.createIndex({ due_at: 1 }, { sparse: true })
    await this.jobs.createIndex({ request_id: 1, kind: 1 })
  }

  async enqueue<D>(jobs: NewJob<D>[], now = this.now()): Promise<void> {
    const docs = jobs.map((job) => {
      const waiting = (job.waitFor ?? 0) > 0
      return {
        kind: job.kind,
        key: job.key,
        ...(job.request_id ? { request_id: job.request_id } : {}),
        state: job.held ? 'held' : waiting ? 'waiting' : 'pending',
        ...(waiting
          ? { barrier: { needed: job.waitFor!, arrived: [] } }
          : job.held
            ? {}
            : { due_at: job.runAt ?? now }),
        generation: 0,
        claims: 0,
        data: job.data,
        created_at: now,
        updated_at: now
      } as unknown as JobDocument
    })
    await insertMissing(this.jobs, docs)
  }

  /** Makes a request's held jobs claimable, all in one update. */
  async releaseHeld(requestId: string, now = this.now()): Promise<void> {
    await this.jobs.updateMany(
      { request_id: requestId, state: 'held' },
      { $set: { state: 'pending', due_at: now, updated_at: now } }
    )
  }

  /**
   * One atomic findOneAndUpdate: the oldest job of `kinds` that is pending and due, or running under a lease
   * that expired (its worker died). The winner gets a new generation; a loser's later writes match nothing.
   */
  async claim<D>(owner: string, kinds: JobKind[], leaseMs: number, now = this.now()): Promise<Lease<D> | null> {
    if (kinds.length === 0) return null
    const job = await this.jobs.findOneAndUpdate(
      { due_at: { $lte: now }, kind: { $in: kinds } },
      {
        $set: { state: 'running', owner, due_at: new Date(now.getTime() + leaseMs), updated_at: now },
        $inc: { generation: 1, claims: 1 }
      },
      { sort: { due_at: 1 }, returnDocument: 'after' }
    )
    return job ? { job: job as unknown as JobDocument<D>, owner, generation: job.generation, leaseMs } : null
  }

  /** Extends the lease; false once another worker holds the job (then the holder must stop writing). */
  heartbeat(lease: Lease<unknown>, now = this.now()): Promise<boolean> {
    return this.fenced(lease, { $set: { due_at: new Date(now.getTime() + lease.leaseMs), updated_at: now } })
  }

  /** A write on behalf of the holder (progress), extending the lease with it. */
  save(lease: Lease<unknown>, update: JobUpdate, now = this.now()): Promise<boolean> {
    return this.fenced(
      lease,
      merge(update, { $set: { due_at: new Date(now.getTime() + lease.leaseMs), updated_at: now } })
    )
  }

  complete(lease: Lease<unknown>, update: JobUpdate = {}, now = this.now()): Promise<boolean> {
    return this.fenced(
      lease,
      merge(update, {
        $set: { state: 'done', owner: null, finished_by: lease.owner, finished_at: now, updated_at: now },
        $unset: { due_at: '' }
      })
    )
  }

  fail(lease: Lease<unknown>, reason: string, update: JobUpdate = {}, now = this.now()): Promise<boolean> {
    return this.fenced(
      lease,
      merge(update, {
        $set: { state: 'failed', error: reason, owner: null, finished_at: now, updated_at: now },
        $unset: { due_at: '' }
      })
    )
  }

  /**
   * Gives the job back to run at `at` (default now): a graceful shutdown, or a retry the processor scheduled.
   * The claim is returned too, so orderly hand-backs never count towards MAX_CLAIMS; `forgetCrashes` (after a
   * successful run of a recurring job) clears the count altogether, so crashes months apart never add up.
   */
  release(
    lease: Lease<unknown>,
    at = this.now(),
    update: JobUpdate = {},
    options: { forgetCrashes?: boolean } = {},
    now = this.now()
  ): Promise<boolean> {
    const claims = options.forgetCrashes ? { $set: { claims: 0 } } : { $inc: { claims: -1 } }
    return this.fenced(
      lease,
      merge(update, { ...claims, $set: { ...claims.$set, state: 'pending', owner: null, due_at: at, updated_at: now } })
    )
  }

  /**
   * Records that `part` of a waiting job's barrier has arrived; when the last distinct part arrives, the job
   * becomes pending. One atomic, idempotent update: parts arriving twice or at the same instant count once, and
   * exactly one arrival makes the job due.
   */
  async arrive(key: string, part: number, now = this.now()): Promise<void> {
    await this.jobs.updateOne({ key, state: 'waiting' }, [
      { $set: { 'barrier.arrived': { $setUnion: ['$barrier.arrived', [part]] }, updated_at: { $literal: now } } },
      {
        $set: { state: { $cond: [{ $gte: [{ $size: '$barrier.arrived' }, '$barrier.needed'] }, 'pending', 'waiting'] } }
      },
      { $set: { due_at: { $cond: [{ $eq: ['$state', 'pending'] }, { $literal: now }, '$$REMOVE'] } } }
    ])
  }

  find<D>(key: string): Promise<JobDocument<D> | null> {
    return this.jobs.findOne({ key }) as Promise<JobDocument<D> | null>
  }

  /** When the next job becomes claimable (a scheduled run or a lease running out), if any is in sight. */
  async nextDueAt(now = this.now()): Promise<Date | null> {
    const next = await this.jobs.findOne({ due_at: { $gt: now } }, { sort: { due_at: 1 }, projection: { due_at: 1 } })
    return next?.due_at ?? null
  }

  /**
   * Calls `onWork` whenever a job becomes pending (inserted, released, or its barrier completed). Needs a
   * replica set (change streams); on a standalone server it returns null and the runner polls instead.
   */
  async watch(onWork: () => void, onError: (err: unknown) => void): Promise<ChangeStream | null> {
    if (!(await supportsChangeStreams(this.jobs.db))) return null
    const becamePending = [
      {
        $match: {
          $or: [
            { operationType: { $in: ['insert', 'replace'] }, 'fullDocument.state': 'pending' },
            { operationType: 'update', 'updateDescription.updatedFields.state': 'pending' }
          ]
        }
      },
      { $project: { _id: 1 } }
    ]
    const stream = this.jobs.watch(becamePending)
    stream.on('change', () => onWork())
    stream.on('error', onError)
    return stream
  }

  private async fenced(lease: Lease<unknown>, update: UpdateFilter<JobDocument>): Promise<boolean> {
    const filter: Filter<JobDocument> = { _id: lease.job._id, generation: lease.generation, state: 'running' }
    const result = await this.jobs.updateOne(filter, update)
    return result.matchedCount === 1
  }
}

/** Change streams exist on replica sets and sharded clusters, not on a standalone mongod. */
export async function supportsChangeStreams(db: Db): Promise<boolean> {
  const hello = await db.admin().command({ hello: 1 })
  return Boolean(hello.setName) || hello.msg === 'isdbgrid'
}

function merge(a: JobUpdate, b: UpdateFilter<JobDocument>): UpdateFilter<JobDocument> {
  const out: Record<string, Record<string, unknown>> = { ...(b as Record<string, Record<string, unknown>>) }
  for (const [op, fields] of Object.entries(a)) out[op] = { ...(fields as Record<string, unknown>), ...out[op] }
  return out as UpdateFilter<JobDocument>
}
