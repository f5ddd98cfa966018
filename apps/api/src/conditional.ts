import type { ObjectInfo } from '@imgproc/storage'
import fresh from 'fresh'
import { parse as parseRange } from 'range-parser'

/** The request headers that decide what part of a stored object is sent. */
export interface ReadConditions {
  range?: string | undefined
  ifNoneMatch?: string | undefined
  ifModifiedSince?: string | undefined
}

/** What to answer: the whole object, one byte range of it, not modified, or a range past its end. */
export type ReadPlan = { status: 200 } | { status: 206; start: number; end: number } | { status: 304 } | { status: 416 }

type Validators = Pick<ObjectInfo, 'size' | 'etag' | 'lastModified'>

export function isConditional(conditions: ReadConditions): boolean {
  return Boolean(conditions.range || conditions.ifNoneMatch || conditions.ifModifiedSince)
}

/**
 * RFC 9110 for an immutable object, decided from its stat alone: a matching validator is 304 (it wins over Range);
 * one satisfiable byte range is 206; a range wholly past the end is 416. A malformed, non-byte or multi-range
 * header is ignored (200, the whole object), which the RFC allows and which spares us multipart/byteranges.
 */
export function readPlan(info: Validators, conditions: ReadConditions): ReadPlan {
  const request = { 'if-none-match': conditions.ifNoneMatch, 'if-modified-since': conditions.ifModifiedSince }
  if (fresh(request, { etag: info.etag, 'last-modified': info.lastModified.toUTCString() })) return { status: 304 }
  if (!conditions.range) return { status: 200 }
  const parsed = parseRange(info.size, conditions.range)
  if (parsed.type !== 'bytes' || (parsed.code & 1) !== 0) return { status: 200 }
  if (parsed.ranges.length === 0) return info.size === 0 ? { status: 200 } : { status: 416 }
  if (parsed.ranges.length > 1) return { status: 200 }
  const { start, end } = parsed.ranges[0]!
  return { status: 206, start, end }
}

/** Response headers for a plan; Cache-Control is what was decided when the object was written. */
export function responseHeaders(info: ObjectInfo, plan: ReadPlan): Record<string, string> {
  const common = {
    etag: info.etag,
    'last-modified': info.lastModified.toUTCString(),
    'cache-control': info.cacheControl,
    'accept-ranges': 'bytes'
  }
  switch (plan.status) {
    case 304:
      return common
    case 416:
      return { ...common, 'content-range': `bytes */${info.size}` }
    case 206:
      return {
        ...common,
        'content-type': info.contentType,
        'content-length': String(plan.end - plan.start + 1),
        'content-range': `bytes ${plan.start}-${plan.end}/${info.size}`
      }
    case 200:
      return { ...common, 'content-type': info.contentType, 'content-length': String(info.size) }
  }
}
