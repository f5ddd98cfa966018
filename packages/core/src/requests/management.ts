import type { RequestStatus } from './contracts.ts'
import type { ImageRecord, VisibleRequest } from './records.ts'

/**
 * Request management as decisions: which statuses are final, when a request may be cancelled or retried, and what
 * a retry re-queues. The store and the routes only carry them out; the list is in list.ts and cursor.ts.
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
