import t from 'tap'
import { assertKey, assertPrefix } from './port.ts'

t.test('keys and prefixes', async (t) => {
  t.equal(assertKey('0b1c/12.avif'), '0b1c/12.avif')
  for (const bad of ['', '/a', 'a/', 'a//b', '..', 'a/../b', 'a/./b', 'a\\b', 'a b', '.hidden/x'])
    t.throws(() => assertKey(bad), { name: 'StorageError', kind: 'invalid-key' }, bad)
  t.equal(assertPrefix('0b1c/'), '0b1c/')
  for (const bad of ['0b1c', '/', '../'])
    t.throws(() => assertPrefix(bad), { name: 'StorageError', kind: 'invalid-key' }, bad)
})
