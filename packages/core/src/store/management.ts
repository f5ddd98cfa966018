/**
 * Request management in the store: the caller's requests a page at a time, cancelling a running request, and
 * re-queueing what a finished one did not do. The decisions are in requests/management.ts.
 */
import type { Collection, Filter } from 'mongodb'
import { type ListPosition, type RetryPlan, requeued } from '../requests/management.ts'
import type { RequestDocument, VisibleRequest } from '../requests/records.ts'
import { HIDDEN } from './creation.ts'
import type { Jobs } from './jobs.ts'

export interface ManagementParts {
  requests: Collection<RequestDocument>
  jobs: Jobs
}

/** The list's index: a tenant's requests newest first, ids breaking ties; ensureIndexes makes it. */
export const LIST_INDEX = { owner: 1, created_at: -1, request_id: -1 } as const

/**
 * Up to `limit` of `owner`'s requests created before `after` (newest first), never Staging or Discarded. `owner`
 * null is the one tenant of a deployment without API keys: requests stored without an owner.
 */
export async function listRequests(
  requests: Collection<RequestDocument>,
  owner: string | null,
  limit: number,
  after: ListPosition | null
): Promise<VisibleRequest[]> {
  // null matches a missing owner, through the same index.
  const filter = {
    owner,
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
 * Cancels a Pending or Processing request: first the one transition to Cancelled (so no finisher can complete it
 * any more), then its units, so none is claimed again and a holder stops at its next fenced write; its finisher
 * becomes due and writes the output CSV of what was done. False if the request had reached a final status.
 */
export async function cancelRequest(parts: ManagementParts, requestId: string, now: Date): Promise<boolean> {
  const result = await parts.requests.updateOne(
    { request_id: requestId, status: { $in: ['Pending', 'Processing'] } },
    { $set: { status: 'Cancelled', cancelled_at: now, completed_at: now, updated_at: now } }
  )
  if (result.modifiedCount !== 1) return false
  await parts.jobs.cancelRequest(requestId)
  return true
}

/**
 * Re-queues what `plan` names in the same request: the request goes back to Processing in a new round (one
 * update, conditional on the status it was planned from, so of two retries at once one wins), its finisher waits
 * for the re-queued units, and those units become pending with the images to redo. False if another change won.
 */
export async function retryRequest(
  parts: ManagementParts,
  doc: VisibleRequest,
  plan: RetryPlan,
  now: Date
): Promise<boolean> {
  const round = doc.round ?? 0
  const result = await parts.requests.updateOne(
    {
      request_id: doc.request_id,
      status: doc.status,
      round: round === 0 ? { $in: [0, null] } : round
    } as Filter<RequestDocument>,
    {
      $set: { status: 'Processing', round: round + 1, updated_at: now },
      $unset: { completed_at: '', cancelled_at: '', error: '', output_csv: '' }
    }
  )
  if (result.modifiedCount !== 1) return false
  await parts.jobs.reopenFinisher(doc.request_id, plan.units.length)
  const images = await parts.jobs.unitImages(
    doc.request_id,
    plan.units.map((u) => u.n)
  )
  for (const { n, slots } of plan.units)
    await parts.jobs.requeueUnit(doc.request_id, n, requeued(images.get(n) ?? [], slots))
  return true
}
