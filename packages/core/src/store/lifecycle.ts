/**
 * A request's lifecycle in the store: the transitions its units and finisher make (started, finished, a cancel
 * wound up), and the retention sweep's reads of which requests have ended. RequestStore offers them as methods.
 */
import type { Collection } from 'mongodb'
import type { RequestDocument } from '../requests/records.ts'

/** What the one transition to a final status writes. */
export type FinalSet = Pick<RequestDocument, 'status' | 'images'> &
  Partial<Pick<RequestDocument, 'output_csv' | 'error'>>

/** What a cancelled request's finisher writes once it has written what was done. */
export type CancelledSet = Pick<RequestDocument, 'images' | 'output_csv'>

/** The first claimed unit moves the request from Pending to Processing (once). */
export async function markStarted(requests: Collection<RequestDocument>, requestId: string, now: Date): Promise<void> {
  await requests.updateOne(
    { request_id: requestId, status: 'Pending' },
    { $set: { status: 'Processing', started_at: now, updated_at: now } }
  )
}

/** The one transition to a final status; false if the request had reached one already. */
export async function finishRequest(
  requests: Collection<RequestDocument>,
  requestId: string,
  set: FinalSet,
  now: Date
): Promise<boolean> {
  const result = await requests.updateOne(
    { request_id: requestId, status: { $in: ['Pending', 'Processing'] } },
    { $set: { ...set, completed_at: now, updated_at: now }, $min: { started_at: now } }
  )
  return result.modifiedCount === 1
}

/**
 * A cancelled request's finisher has written what was done: its summary and output CSV, once (false if
 * another run of it got there first, or the request is no longer Cancelled).
 */
export async function settleCancelled(
  requests: Collection<RequestDocument>,
  requestId: string,
  set: CancelledSet,
  now: Date
): Promise<boolean> {
  const result = await requests.updateOne(
    { request_id: requestId, status: 'Cancelled', output_csv: { $exists: false } },
    { $set: { ...set, updated_at: now } }
  )
  return result.modifiedCount === 1
}

/**
 * The retention sweep's work list: finished requests whose completion is older than `cutoff`, and requests
 * still Pending that were created before it. (An upload that died halfway is settled by settleCreations.)
 */
export async function expiredBefore(
  requests: Collection<RequestDocument>,
  cutoff: Date,
  limit: number
): Promise<string[]> {
  const finished = await requests
    .find(
      { status: { $in: ['Completed', 'Failed', 'Cancelled'] }, completed_at: { $lt: cutoff } },
      { projection: { request_id: 1 }, limit }
    )
    .toArray()
  const abandoned = await requests
    .find({ status: 'Pending', created_at: { $lt: cutoff } }, { projection: { request_id: 1 }, limit })
    .toArray()
  return [...finished, ...abandoned].slice(0, limit).map((d) => d.request_id)
}

/**
 * When the oldest request still kept was created (null when none is): every request refers to outputs only after
 * its creation, so a shared output nobody referred to since then is referred to by no request kept (docs/reuse.md).
 */
export async function oldestCreatedAt(requests: Collection<RequestDocument>): Promise<Date | null> {
  const [doc] = await requests.find({}, { projection: { created_at: 1 }, sort: { created_at: 1 }, limit: 1 }).toArray()
  return doc?.created_at ?? null
}
