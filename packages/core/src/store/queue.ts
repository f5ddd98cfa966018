import type { ChangeStream, Collection, Db, Filter, UpdateFilter } from 'mongodb'
import { insertMissing } from './mongo.ts'
import type { Arrival, JobDocument, JobKind, JobPatch, JobQueue, Lease, NewJob, ReleaseOptions } from './queue-port.ts'

/**
 * The work queue: the one place that claims, leases, fences and wakes work of every kind (image work units,
 * request finishing, webhook deliveries, retention sweeps), and the only code that touches the `jobs`
 * collection. Processors never see a lease; the worker's runner holds it for them.
 */
export class WorkQueue implements JobQueue {
  private readonly jobs: Collection<JobDocument>
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
    // Held jobs exist only while a request is being created: this index is nearly always empty.
    await this.jobs.createIndex({ created_at: 1 }, { partialFilterExpression: { state: 'held' } })
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

  /** Sets `patch` in the data of a request's held jobs of one kind, all in one update. */
  async patchHeld(requestId: string, kind: JobKind, patch: JobPatch): Promise<void> {
    await this.jobs.updateMany({ request_id: requestId, kind, state: 'held' }, { $set: dataFields(patch) })
  }

  /** The requests with jobs held since before `cutoff` (a producer stopped before releasing them). */
  async heldRequestsBefore(cutoff: Date): Promise<string[]> {
    const ids = await this.jobs.distinct('request_id', { state: 'held', created_at: { $lt: cutoff } })
    return ids.filter((id): id is string => typeof id === 'string')
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
  save(lease: Lease<unknown>, patch: JobPatch = {}, now = this.now()): Promise<boolean> {
    return this.fenced(lease, {
      $set: { ...dataFields(patch), due_at: new Date(now.getTime() + lease.leaseMs), updated_at: now }
    })
  }

  complete(lease: Lease<unknown>, patch: JobPatch = {}, now = this.now()): Promise<boolean> {
    return this.fenced(lease, {
      $set: {
        ...dataFields(patch),
        state: 'done',
        owner: null,
        finished_by: lease.owner,
        finished_at: now,
        updated_at: now
      },
      $unset: { due_at: '' }
    })
  }

  fail(lease: Lease<unknown>, reason: string, patch: JobPatch = {}, now = this.now()): Promise<boolean> {
    return this.fenced(lease, {
      $set: { ...dataFields(patch), state: 'failed', error: reason, owner: null, finished_at: now, updated_at: now },
      $unset: { due_at: '' }
    })
  }

  /**
   * Gives the job back to run at `at` (default now): a graceful shutdown, or a retry the processor scheduled.
   * The claim is returned too, so orderly hand-backs never count towards MAX_CLAIMS; `forgetCrashes` (after a
   * successful run of a recurring job) clears the count altogether, so crashes months apart never add up.
   */
  release(
    lease: Lease<unknown>,
    at = this.now(),
    patch: JobPatch = {},
    options: ReleaseOptions = {},
    now = this.now()
  ): Promise<boolean> {
    const set = { ...dataFields(patch), state: 'pending' as const, owner: null, due_at: at, updated_at: now }
    return this.fenced(
      lease,
      options.forgetCrashes ? { $set: { ...set, claims: 0 } } : { $set: set, $inc: { claims: -1 } }
    )
  }

  /**
   * Records that a part of a waiting job's barrier has arrived; when the last distinct part arrives, the job
   * becomes pending. One atomic, idempotent update: parts arriving twice or at the same instant count once, and
   * exactly one arrival makes the job due.
   */
  async arrive({ barrier, part }: Arrival, now = this.now()): Promise<void> {
    await this.jobs.updateOne({ key: barrier, state: 'waiting' }, [
      { $set: { 'barrier.arrived': { $setUnion: ['$barrier.arrived', [part]] }, updated_at: { $literal: now } } },
      {
        $set: { state: { $cond: [{ $gte: [{ $size: '$barrier.arrived' }, '$barrier.needed'] }, 'pending', 'waiting'] } }
      },
      { $set: { due_at: { $cond: [{ $eq: ['$state', 'pending'] }, { $literal: now }, '$$REMOVE'] } } }
    ])
  }

  /**
   * Cancels a request's open jobs of `kind` in one update: pending and held ones are never claimed, and a running
   * one's holder fails its next fenced write or heartbeat (the filter names state running), so it stops.
   */
  async cancelOpen(requestId: string, kind: JobKind, now = this.now()): Promise<number> {
    const result = await this.jobs.updateMany(
      { request_id: requestId, kind, state: { $in: ['held', 'pending', 'running'] } },
      { $set: { state: 'cancelled', owner: null, updated_at: now }, $unset: { due_at: '' } }
    )
    return result.modifiedCount
  }

  /** Makes a waiting job due now without its barrier (a cancelled request's finisher); false if it was not waiting. */
  async dueNow(key: string, now = this.now()): Promise<boolean> {
    const result = await this.jobs.updateOne(
      { key, state: 'waiting' },
      { $set: { state: 'pending', due_at: now, updated_at: now } }
    )
    return result.modifiedCount === 1
  }

  /**
   * Opens an ended job (done, failed or cancelled; or running, whose holder is then fenced off) again, with
   * `patch` in its data: pending, or waiting for `waitFor` parts. Its claims start again from zero. False if
   * there was no such job, or its data already held `unless` (a repeat).
   */
  async reopen(
    key: string,
    patch: JobPatch,
    options: { waitFor?: number; unless?: JobPatch } = {},
    now = this.now()
  ): Promise<boolean> {
    const waiting = (options.waitFor ?? 0) > 0
    // `unless`: data fields that, already holding these values, mean it was reopened for this reason before.
    const unless = Object.fromEntries(Object.entries(dataFields(options.unless ?? {})).map(([k, v]) => [k, { $ne: v }]))
    const result = await this.jobs.updateOne(
      { key, state: { $in: ['done', 'failed', 'cancelled', 'running'] }, ...unless },
      {
        $set: {
          ...dataFields(patch),
          state: waiting ? 'waiting' : 'pending',
          owner: null,
          claims: 0,
          updated_at: now,
          ...(waiting ? { barrier: { needed: options.waitFor!, arrived: [] } } : { due_at: now })
        },
        $unset: { error: '', finished_at: '', finished_by: '', ...(waiting ? { due_at: '' } : {}) }
      }
    )
    return result.modifiedCount === 1
  }

  find<D>(key: string): Promise<JobDocument<D> | null> {
    return this.jobs.findOne({ key }) as Promise<JobDocument<D> | null>
  }

  /** Of the jobs with these keys, the one enqueued last, in one read; null if none exists. */
  latest<D>(keys: string[]): Promise<JobDocument<D> | null> {
    return this.jobs.findOne({ key: { $in: keys } }, { sort: { created_at: -1 } }) as Promise<JobDocument<D> | null>
  }

  /** A request's jobs (of one kind), in full: operations and tests look at them. */
  ofRequest<D>(requestId: string, kind?: JobKind): Promise<JobDocument<D>[]> {
    return this.jobs.find({ request_id: requestId, ...(kind ? { kind } : {}) }).toArray() as Promise<JobDocument<D>[]>
  }

  /** Only `fields` of the data of a request's jobs of one kind (a status read sums the units' counters). */
  async dataByRequest<D, K extends keyof D & string>(requestId: string, kind: JobKind, fields: K[]) {
    return this.dataWhere<D, K>({ request_id: requestId, kind }, fields)
  }

  /** Only `fields` of the data of the jobs with these keys; keys with no job are left out. */
  async dataByKeys<D, K extends keyof D & string>(keys: string[], fields: K[]) {
    return keys.length === 0 ? [] : this.dataWhere<D, K>({ key: { $in: keys } }, fields)
  }

  /** Removes every job of a request (retention). */
  async removeRequest(requestId: string): Promise<number> {
    return (await this.jobs.deleteMany({ request_id: requestId })).deletedCount
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

  private async dataWhere<D, K extends keyof D & string>(filter: Filter<JobDocument>, fields: K[]) {
    const projection = Object.fromEntries(fields.map((f) => [`data.${f}`, 1]))
    const jobs = await this.jobs.find(filter, { projection }).toArray()
    return jobs.map((job) => job.data as unknown as Pick<D, K>)
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

/** A patch's paths, inside the document's `data`. */
function dataFields(patch: JobPatch): Record<string, unknown> {
  return Object.fromEntries(Object.entries(patch).map(([path, value]) => [`data.${path}`, value]))
}
