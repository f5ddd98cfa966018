/**
 * A work queue in memory with the same interface as the MongoDB one (JobQueue), for the runner's spec: claims by
 * kind and due time, generations that fence every write, releases, barriers and a wake-up. Every write that
 * lands is logged, so a spec can tell exactly what a run wrote.
 */
import type { Arrival, JobDocument, JobKind, JobPatch, JobQueue, Lease, NewJob, ReleaseOptions } from '@imgproc/core'
import { ObjectId } from 'mongodb'

export interface Write {
  op: 'save' | 'complete' | 'fail' | 'release' | 'arrive'
  key: string
  patch?: JobPatch
}

export class MemoryQueue implements JobQueue {
  readonly jobs = new Map<string, JobDocument>()
  readonly writes: Write[] = []
  private listeners = new Set<() => void>()

  now(): Date {
    return new Date()
  }

  async syncClock(): Promise<number> {
    return 0
  }

  add<D>(job: NewJob<D>): void {
    if (this.jobs.has(job.key)) return
    const waiting = (job.waitFor ?? 0) > 0
    this.jobs.set(job.key, {
      _id: new ObjectId(),
      kind: job.kind,
      key: job.key,
      ...(job.request_id ? { request_id: job.request_id } : {}),
      state: waiting ? 'waiting' : 'pending',
      ...(waiting ? { barrier: { needed: job.waitFor!, arrived: [] } } : { due_at: job.runAt ?? this.now() }),
      generation: 0,
      claims: 0,
      data: structuredClone(job.data) as Record<string, unknown>,
      created_at: this.now(),
      updated_at: this.now()
    })
    if (!waiting) this.notify()
  }

  get(key: string): JobDocument {
    return this.jobs.get(key)!
  }

  /** Another worker claims the job as if its lease had run out: the current holder is fenced off. */
  takeOver(key: string, owner = 'thief'): void {
    const job = this.get(key)
    Object.assign(job, { owner, generation: job.generation + 1, claims: job.claims + 1, state: 'running' })
  }

  async claim<D>(owner: string, kinds: JobKind[], leaseMs: number): Promise<Lease<D> | null> {
    const now = this.now()
    const job = [...this.jobs.values()]
      .filter((j) => j.due_at && j.due_at <= now && kinds.includes(j.kind))
      .sort((a, b) => a.due_at!.getTime() - b.due_at!.getTime())[0]
    if (!job) return null
    Object.assign(job, {
      state: 'running',
      owner,
      due_at: new Date(now.getTime() + leaseMs),
      generation: job.generation + 1,
      claims: job.claims + 1
    })
    return { job: structuredClone(job) as unknown as JobDocument<D>, owner, generation: job.generation, leaseMs }
  }

  async heartbeat(lease: Lease<unknown>): Promise<boolean> {
    return this.fenced(lease, (job) => {
      job.due_at = new Date(Date.now() + lease.leaseMs)
    })
  }

  async save(lease: Lease<unknown>, patch: JobPatch = {}): Promise<boolean> {
    return this.fenced(
      lease,
      (job) => {
        apply(job, patch)
        job.due_at = new Date(Date.now() + lease.leaseMs)
      },
      { op: 'save', key: lease.job.key, patch }
    )
  }

  async complete(lease: Lease<unknown>, patch: JobPatch = {}): Promise<boolean> {
    return this.fenced(
      lease,
      (job) => {
        apply(job, patch)
        Object.assign(job, { state: 'done', owner: null, finished_by: lease.owner, finished_at: this.now() })
        delete job.due_at
      },
      { op: 'complete', key: lease.job.key, patch }
    )
  }

  async fail(lease: Lease<unknown>, reason: string, patch: JobPatch = {}): Promise<boolean> {
    return this.fenced(
      lease,
      (job) => {
        apply(job, patch)
        Object.assign(job, { state: 'failed', error: reason, owner: null, finished_at: this.now() })
        delete job.due_at
      },
      { op: 'fail', key: lease.job.key, patch }
    )
  }

  async release(lease: Lease<unknown>, at = this.now(), patch: JobPatch = {}, options: ReleaseOptions = {}) {
    const held = this.fenced(
      lease,
      (job) => {
        apply(job, patch)
        Object.assign(job, {
          state: 'pending',
          owner: null,
          due_at: at,
          claims: options.forgetCrashes ? 0 : job.claims - 1
        })
      },
      { op: 'release', key: lease.job.key, patch }
    )
    if (held) this.notify()
    return held
  }

  async arrive({ barrier, part }: Arrival): Promise<void> {
    const job = this.jobs.get(barrier)
    this.writes.push({ op: 'arrive', key: barrier })
    if (job?.state !== 'waiting') return
    if (!job.barrier!.arrived.includes(part)) job.barrier!.arrived.push(part)
    if (job.barrier!.arrived.length < job.barrier!.needed) return
    Object.assign(job, { state: 'pending', due_at: this.now() })
    this.notify()
  }

  async nextDueAt(): Promise<Date | null> {
    const now = this.now()
    const later = [...this.jobs.values()].flatMap((j) => (j.due_at && j.due_at > now ? [j.due_at.getTime()] : []))
    return later.length > 0 ? new Date(Math.min(...later)) : null
  }

  async watch(onWork: () => void): Promise<{ close(): Promise<void> }> {
    this.listeners.add(onWork)
    return { close: async () => void this.listeners.delete(onWork) }
  }

  private notify(): void {
    for (const listener of this.listeners) listener()
  }

  private fenced(lease: Lease<unknown>, write: (job: JobDocument) => void, log?: Write): boolean {
    const job = this.jobs.get(lease.job.key)
    if (!job || job.generation !== lease.generation || job.state !== 'running') return false
    write(job)
    job.updated_at = this.now()
    if (log) this.writes.push(log)
    return true
  }
}

/** Sets each path of the patch inside the job's data (`images.3` is element 3 of `images`). */
function apply(job: JobDocument, patch: JobPatch): void {
  for (const [path, value] of Object.entries(patch)) {
    const keys = path.split('.')
    let at = job.data as Record<string, unknown>
    for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>
    at[keys.at(-1)!] = structuredClone(value)
  }
}
