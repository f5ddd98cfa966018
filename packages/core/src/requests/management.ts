import Type, { type Static } from 'typebox'
import { Counts, RequestId, RequestStatus } from './contracts.ts'
import type { ImageRecord, RequestDocument, VisibleRequest } from './records.ts'
import { countsOf } from './view.ts'

/**
 * Request management as decisions: which statuses are final, when a request may be cancelled or retried, what a
 * retry re-queues, and the list's contracts and cursor. The store and the routes only carry them out.
 */

export const FINAL_STATUSES: readonly RequestStatus[] = ['Completed', 'Failed', 'Cancelled']

export function isFinal(status: string): boolean {
  return (FINAL_STATUSES as readonly string[]).includes(status)
}

/**
 * Why a request cannot be cancelled (a 409's message), or null when it can. A retry still being set up (its
 * `retrying` note) is refused too: the cancel would find no finisher waiting to wind it up.
 */
export function cancelRefusal(doc: Pick<VisibleRequest, 'request_id' | 'status' | 'retrying'>): string | null {
  if (isFinal(doc.status))
    return `request ${doc.request_id} is ${doc.status}: only a Pending or Processing request can be cancelled`
  if (doc.retrying) return `request ${doc.request_id}: a retry is being set up; cancel it in a moment`
  return null
}

/** What a retry re-queues: per work unit, the slots of its images to do again. */
export interface RetryPlan {
  units: Array<{ n: number; slots: number[] }>
  images: number
}

/**
 * What a retry re-queues, or why there is nothing to (a 409's message): the images that failed, and those never
 * done (a Cancelled request's, or a Failed one's whose finisher gave up). A running request is refused, and so
 * is a Cancelled one whose cancellation is still being wound up (no output CSV yet).
 */
export function retryPlan(
  doc: Pick<VisibleRequest, 'request_id' | 'status' | 'output_csv'>,
  units: Iterable<{ n: number; images: readonly Pick<ImageRecord, 'status'>[] }>
): RetryPlan | { refusal: string } {
  const id = doc.request_id
  if (!isFinal(doc.status))
    return { refusal: `request ${id} is still ${doc.status}: retry it once it is Completed, Failed or Cancelled` }
  if (doc.status === 'Cancelled' && !doc.output_csv)
    return { refusal: `request ${id} is being cancelled: retry it once its output CSV is written` }
  const plan: RetryPlan = { units: [], images: 0 }
  for (const unit of units) {
    const slots = failedSlots(unit.images)
    if (slots.length === 0) continue
    plan.units.push({ n: unit.n, slots })
    plan.images += slots.length
  }
  if (plan.images === 0) return { refusal: `request ${id} has no failed images: there is nothing to retry` }
  return plan
}

/** The slots of a unit's images a retry does again: every one not succeeded (failed, or never done). */
export function failedSlots(images: readonly Pick<ImageRecord, 'status'>[]): number[] {
  return images.flatMap((image, slot) => (image.status === 'succeeded' ? [] : [slot]))
}

/** A unit's images with `slots` made pending again (what the failed run recorded of them is dropped). */
export function requeued(images: readonly ImageRecord[], slots: readonly number[]): ImageRecord[] {
  const again = new Set(slots)
  return images.map((image, slot) => (again.has(slot) ? { url: image.url, status: 'pending' } : image))
}

// The list: GET /requests.

export const ListQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'How many requests to include.' }),
  cursor: Type.Optional(
    Type.String({ maxLength: 200, description: "Where to go on from: the previous page's `next_cursor`." })
  )
})

const DateTime = Type.String({ format: 'date-time' })

export const RequestSummary = Type.Object(
  {
    request_id: RequestId,
    status: RequestStatus,
    created_at: DateTime,
    completed_at: Type.Union([DateTime, Type.Null()]),
    counts: Counts
  },
  { description: 'One request in the list: its status and image counts.' }
)
export type RequestSummary = Static<typeof RequestSummary>

export const RequestList = Type.Object(
  {
    items: Type.Array(RequestSummary),
    next_cursor: Type.Union([Type.String(), Type.Null()], {
      description: 'Pass it as `cursor` for the next page; null on the last page.'
    })
  },
  { description: "The caller's requests, newest first, one page of them." }
)
export type RequestList = Static<typeof RequestList>

/** Where a page of the list ends: the last request's creation time and id (ids break ties between equal times). */
export interface ListPosition {
  created_at: Date
  request_id: string
}

/** An opaque cursor for a list position. */
export function encodeCursor(at: ListPosition): string {
  return Buffer.from(`${at.created_at.getTime()}:${at.request_id}`).toString('base64url')
}

/** The position a cursor names; null for anything that is not one of ours. */
export function decodeCursor(cursor: string): ListPosition | null {
  const match = /^(\d{1,15}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!match) return null
  return { created_at: new Date(Number(match[1])), request_id: match[2]! }
}

export function requestSummary(doc: VisibleRequest, images: RequestDocument['images']): RequestSummary {
  return {
    request_id: doc.request_id,
    status: doc.status,
    created_at: doc.created_at.toISOString(),
    completed_at: doc.completed_at?.toISOString() ?? null,
    counts: countsOf(images)
  }
}
