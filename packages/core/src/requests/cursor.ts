/** The list's cursor: where a page of GET /requests ends, opaque to the caller. */

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
