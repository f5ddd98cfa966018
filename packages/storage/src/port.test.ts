import t from 'tap'
import { assertKey, IMMUTABLE, objectMeta, PRIVATE } from './port.ts'

t.test('objectMeta and keys', async (t) => {
  t.same(objectMeta('r/0.webp'), { contentType: 'image/webp', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/1.jpg'), { contentType: 'image/jpeg', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/output.csv'), { contentType: 'text/csv; charset=utf-8', cacheControl: PRIVATE })
  t.equal(objectMeta('r/x.bin').contentType, 'application/octet-stream')
  t.equal(assertKey('0b1c/12.avif'), '0b1c/12.avif')
  for (const bad of ['', '/a', 'a/', 'a//b', '..', 'a/../b', 'a/./b', 'a\\b', 'a b', '.hidden/x'])
    t.throws(() => assertKey(bad), { name: 'StorageError', kind: 'invalid-key' }, bad)
})
