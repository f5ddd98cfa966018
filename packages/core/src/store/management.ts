/**
 * Request management in the store: the caller's requests a page at a time, cancelling a running request, and
 * re-queueing what a finished one did not do. The decisions are in requests/management.ts.
 */
import type { Collection, Filter } from 'mongodb'
import type { ListPosition } from '../requests/cursor.ts'
import { failedSlots, type RetryPlan, requeued } from '../requests/management.ts'
import type { RequestDocument, VisibleRequest } from '../requests/records.ts'
import { HIDDEN } from './creation.ts'
import type { Jobs } from './jobs.ts'

export interface ManagementParts {
  requests: Collection<RequestDocument>
  jobs: Jobs
}

/**
 * The list's indexes, made by ensureIndexes: a tenant's requests newest first (ids break ties), and everyone's,
 * for a deployment without API keys.
 */
export const LIST_INDEXES = [
  { owner: 1, created_at: -1, request_id: -1 },
  { created_at: -1, request_id: -1 }
] as const

/**
 * Up to `limit` of `owner`'s requests created before `after` (newest first), never Staging or Discarded. `owner`
 * null is the one tenant of a deployment without API keys: every request, as status shows every request then.
 */
export async function listRequests(
  requests: Collection<RequestDocument>,
  owner: string | null,
  limit: number,
  after: ListPosition | null
): Promise<VisibleRequest[]> {
  const filter = {
    ...(owner !== null && { owner }),
    status: { $nin: HIDDEN },
    ...(after && {
      $or: [
        { created_at: { $lt: after.created_at } },
        { created_at: after.created_at, request_id: { $lt: after.request_id } }
      ]
    })
  } as Filter<RequestDocument>
  return (await requests
    .find(filter, { projection: { _id: 0 } })
    .sort({ created_at: -1, request_id: -1 })
    .limit(limit)
    .toArray()) as VisibleRequest[]
}

/**
 * Pauses inside cancel and retry, after the write that decides and before the job writes that carry it out. Tests
 * that stop the API there pass them (a pause that throws is an API dying at that point); production passes none.
 */
export interface ManagementPauses {
  afterCancel?: (requestId: string) => Promise<void>
  afterRetry?: (requestId: string) => Promise<void>
}

/**
 * Cancels a Pending or Processing request: first the one transition to Cancelled (so no finisher can complete it
 * any more), then its units, so none is claimed again and a holder stops at its next fenced write; its finisher
 * becomes due and writes the output CSV of what was done. False if the request had reached a final status, or a
 * retry is still being set up (its finisher may not be waiting yet, so nothing would finish the cancel). An API
 * that dies in between leaves it to settleInterrupted.
 */
export async function cancelRequest(
  parts: ManagementParts,
  requestId: string,
  now: Date,
  pauses: ManagementPauses = {}
): Promise<boolean> {
  const result = await parts.requests.updateOne(
    { request_id: requestId, status: { $in: ['Pending', 'Processing'] }, retrying: { $exists: false } },
    { $set: { status: 'Cancelled', cancelled_at: now, completed_at: now, updated_at: now } }
  )
  if (result.modifiedCount !== 1) return false
  await pauses.afterCancel?.(requestId)
  await parts.jobs.cancelRequest(requestId)
  return true
}

/**
 * Re-queues what `plan` names in the same request: the request goes back to Processing in a new round (one
 * update, conditional on the status it was planned from, so of two retries at once one wins) and notes the units
 * it re-queues; then its finisher waits for those units, and they become pending with the images to redo. False
 * if another change won. An API that dies halfway leaves the note to settleInterrupted.
 */
export async function retryRequest(
  parts: ManagementParts,
  doc: VisibleRequest,
  plan: RetryPlan,
  now: Date,
  pauses: ManagementPauses = {}
): Promise<boolean> {
  const round = (doc.round ?? 0) + 1
  const units = plan.units.map((u) => u.n)
  const result = await parts.requests.updateOne(
    {
      request_id: doc.request_id,
      status: doc.status,
      round: round === 1 ? { $in: [0, null] } : round - 1
    } as Filter<RequestDocument>,
    {
      $set: { status: 'Processing', round, retrying: units, updated_at: now },
      $unset: { completed_at: '', cancelled_at: '', error: '', output_csv: '' }
    }
  )
  if (result.modifiedCount !== 1) return false
  await pauses.afterRetry?.(doc.request_id)
  await requeueRound(parts, doc.request_id, round, units)
  return true
}

/**
 * The job writes of a retry's round, each once per round (so a sweep may repeat them): the finisher waits for
 * `units`, each re-queued with its images not succeeded made pending; then the request's note goes. Each write
 * first checks the request is still Processing in that round, so nothing is re-queued once it has moved on.
 */
async function requeueRound(parts: ManagementParts, requestId: string, round: number, units: number[]) {
  const current = async () =>
    (await parts.requests.countDocuments({ request_id: requestId, status: 'Processing', round }, { limit: 1 })) === 1
  if (!(await current())) return
  await parts.jobs.reopenFinisher(requestId, units.length, round)
  const images = await parts.jobs.unitImages(requestId, units)
  for (const n of units) {
    const unit = images.get(n) ?? []
    if (!(await current())) return
    await parts.jobs.requeueUnit(requestId, n, requeued(unit, failedSlots(unit)), round)
  }
  await parts.requests.updateOne({ request_id: requestId, round }, { $unset: { retrying: '' } })
}

/**
 * Finishes what an API that died inside a cancel or a retry left, for requests that changed before `cutoff`:
 * a Cancelled request whose finisher has not written its CSV gets its jobs cancelled (again: each step is
 * repeatable), and a retry still noted on its request is carried out. Run by every API's creation sweep.
 */
export async function settleInterrupted(
  parts: ManagementParts,
  cutoff: Date,
  limit = 100
): Promise<{ cancels: number; retries: number }> {
  const cancels = await parts.requests
    .find(
      { status: 'Cancelled', output_csv: { $exists: false }, cancelled_at: { $lt: cutoff } },
      { projection: { request_id: 1 }, limit }
    )
    .toArray()
  for (const { request_id } of cancels) await parts.jobs.cancelRequest(request_id)
  const retries = await parts.requests
    .find(
      { status: 'Processing', retrying: { $exists: true }, updated_at: { $lt: cutoff } },
      { projection: { request_id: 1, round: 1, retrying: 1 }, limit }
    )
    .toArray()
  for (const doc of retries) await requeueRound(parts, doc.request_id, doc.round ?? 0, doc.retrying ?? [])
  return { cancels: cancels.length, retries: retries.length }
}

/** Request management as the store offers it: `store.management`. */
export class RequestManagement {
  constructor(private readonly parts: ManagementParts) {}

  /** Up to `limit` of a tenant's requests after `after`, newest first. */
  list(owner: string | null, limit: number, after: ListPosition | null): Promise<VisibleRequest[]> {
    return listRequests(this.parts.requests, owner, limit, after)
  }

  /** Cancels a Pending or Processing request; false if it had reached a final status. */
  cancel(requestId: string, pauses: ManagementPauses = {}, now = new Date()): Promise<boolean> {
    return cancelRequest(this.parts, requestId, now, pauses)
  }

  /** Re-queues what `plan` names; false if the request changed since it was read. */
  retry(doc: VisibleRequest, plan: RetryPlan, pauses: ManagementPauses = {}, now = new Date()): Promise<boolean> {
    return retryRequest(this.parts, doc, plan, now, pauses)
  }

  /** Carries out cancels and retries an API died inside, changed before `cutoff`. */
  settleInterrupted(cutoff: Date): Promise<{ cancels: number; retries: number }> {
    return settleInterrupted(this.parts, cutoff)
  }
}
