import { CONTENT_TYPES } from './formats.ts'

/** What a stored object is served as: decided once, when it is written, and read back by whoever serves it. */
export interface ObjectMeta {
  contentType: string
  cacheControl: string
}

/** An image's key never gets new content: caches may keep it for a year without asking again. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'
/** The output CSV is the customer's own (product names, source URLs): no shared cache, revalidated every time. */
export const PRIVATE = 'private, no-cache'

/** The metadata of the object stored under `key` (`<request id>/<name>`), from its name alone. */
export function objectMeta(key: string): ObjectMeta {
  const extension = key.slice(key.lastIndexOf('.') + 1)
  return {
    contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
    cacheControl: key.endsWith('/output.csv') ? PRIVATE : IMMUTABLE
  }
}
