import t from 'tap'
import { isConditional, readPlan, responseHeaders } from './conditional.ts'

const info = {
  size: 1000,
  etag: '"abc"',
  contentType: 'image/webp',
  cacheControl: 'public, max-age=31536000, immutable',
  lastModified: new Date('2026-01-02T03:04:05Z')
}

t.test('readPlan: validators first, then one byte range', async (t) => {
  t.same(readPlan(info, {}), { status: 200 })
  t.same(readPlan(info, { ifNoneMatch: '"abc"' }), { status: 304 })
  t.same(readPlan(info, { ifNoneMatch: 'W/"abc"' }), { status: 304 }, 'weak comparison')
  t.same(readPlan(info, { ifNoneMatch: '"x", "abc"' }), { status: 304 }, 'a list')
  t.same(readPlan(info, { ifNoneMatch: '*' }), { status: 304 })
  t.same(readPlan(info, { ifNoneMatch: '"abcd"' }), { status: 200 })
  t.same(readPlan(info, { ifNoneMatch: '"abc"', range: 'bytes=0-9' }), { status: 304 }, 'a match wins over Range')
  t.same(readPlan(info, { ifModifiedSince: 'Fri, 02 Jan 2026 03:04:05 GMT' }), { status: 304 })
  t.same(readPlan(info, { ifModifiedSince: 'Fri, 02 Jan 2026 03:04:04 GMT' }), { status: 200 }, 'modified since')
  t.same(
    readPlan(info, { ifNoneMatch: '"other"', ifModifiedSince: 'Fri, 02 Jan 2026 03:04:05 GMT' }),
    { status: 200 },
    'If-None-Match decides when both are sent'
  )

  t.same(readPlan(info, { range: 'bytes=0-99' }), { status: 206, start: 0, end: 99 })
  t.same(readPlan(info, { range: 'bytes=990-' }), { status: 206, start: 990, end: 999 })
  t.same(readPlan(info, { range: 'bytes=-10' }), { status: 206, start: 990, end: 999 })
  t.same(readPlan(info, { range: 'bytes=900-5000' }), { status: 206, start: 900, end: 999 }, 'clamped to the end')
  t.same(readPlan(info, { range: 'bytes=1000-' }), { status: 416 })
  t.same(readPlan(info, { range: 'bytes=0-1,10-20' }), { status: 200 }, 'several ranges: the whole object')
  t.same(readPlan(info, { range: 'bytes=0-1,1-20' }), { status: 200 })
  t.same(readPlan(info, { range: 'items=0-1' }), { status: 200 }, 'another unit is ignored')
  t.same(readPlan(info, { range: 'bytes=20-10' }), { status: 200 }, 'a malformed range is ignored')
  t.same(readPlan(info, { range: 'garbage' }), { status: 200 })
  t.same(readPlan({ ...info, size: 0 }, { range: 'bytes=0-' }), { status: 200 }, 'an empty object is sent whole')
})

t.test('isConditional', async (t) => {
  t.notOk(isConditional({}))
  t.notOk(isConditional({ range: '', ifNoneMatch: undefined }))
  t.ok(isConditional({ range: 'bytes=0-1' }))
  t.ok(isConditional({ ifNoneMatch: '"a"' }))
  t.ok(isConditional({ ifModifiedSince: 'Fri, 02 Jan 2026 03:04:05 GMT' }))
})

t.test('responseHeaders: the stored cache policy on every answer', async (t) => {
  const common = {
    etag: '"abc"',
    'last-modified': 'Fri, 02 Jan 2026 03:04:05 GMT',
    'cache-control': 'public, max-age=31536000, immutable',
    'accept-ranges': 'bytes'
  }
  t.same(responseHeaders(info, { status: 200 }), { ...common, 'content-type': 'image/webp', 'content-length': '1000' })
  t.same(responseHeaders(info, { status: 206, start: 10, end: 19 }), {
    ...common,
    'content-type': 'image/webp',
    'content-length': '10',
    'content-range': 'bytes 10-19/1000'
  })
  t.same(responseHeaders(info, { status: 304 }), common)
  t.same(responseHeaders(info, { status: 416 }), { ...common, 'content-range': 'bytes */1000' })
  t.equal(
    responseHeaders({ ...info, cacheControl: 'private, no-cache' }, { status: 200 })['cache-control'],
    'private, no-cache'
  )
})
