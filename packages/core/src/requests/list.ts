/** The list of a caller's requests (GET /requests): its query, its items and its page. */
import Type, { type Static } from 'typebox'
import { Counts, RequestId, RequestStatus } from './contracts.ts'
import type { RequestDocument, VisibleRequest } from './records.ts'
import { countsOf } from './view.ts'

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

export function requestSummary(doc: VisibleRequest, images: RequestDocument['images']): RequestSummary {
  return {
    request_id: doc.request_id,
    status: doc.status,
    created_at: doc.created_at.toISOString(),
    completed_at: doc.completed_at?.toISOString() ?? null,
    counts: countsOf(images)
  }
}
