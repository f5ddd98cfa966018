import t from 'tap'
import { IMMUTABLE, objectMeta, PRIVATE } from './object-meta.ts'

t.test('objectMeta: images are immutable and public, the output CSV private', async (t) => {
  t.same(objectMeta('r/0.webp'), { contentType: 'image/webp', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/1.jpg'), { contentType: 'image/jpeg', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/2.avif'), { contentType: 'image/avif', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/output.csv'), { contentType: 'text/csv; charset=utf-8', cacheControl: PRIVATE })
  t.equal(objectMeta('r/x.bin').contentType, 'application/octet-stream')
})
