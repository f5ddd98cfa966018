import t from 'tap'
import { CompactIndex, integerKey, textKey } from './compact-index.ts'

t.test('stores the first value of each key and finds it again, across growth', async (t) => {
  const index = new CompactIndex(4)
  for (let n = 0; n < 10_000; n++) t.equal(index.setIfAbsent(integerKey(n * 7), n), -1)
  t.equal(index.size, 10_000)
  t.equal(index.setIfAbsent(integerKey(7 * 123), 99), 123, 'a repeat gets the first value back')
  t.equal(index.get(integerKey(7 * 9_999)), 9_999)
  t.equal(index.get(integerKey(5)), -1)
  t.ok(index.bytes <= 12 * 32_768, `${index.bytes} bytes for 10,000 keys`)
})

t.test('keys: integers past 32 bits stay distinct; texts by their digest', async (t) => {
  const index = new CompactIndex()
  index.setIfAbsent(integerKey(2 ** 40 + 1), 1)
  t.equal(index.get(integerKey(1)), -1)
  t.equal(index.get(integerKey(2 ** 40 + 1)), 1)
  t.same(textKey('https://a.example/1.jpg'), textKey('https://a.example/1.jpg'))
  t.notSame(textKey('https://a.example/1.jpg'), textKey('https://a.example/2.jpg'))
  index.setIfAbsent(textKey('https://a.example/1.jpg'), 0)
  t.equal(index.get(textKey('https://a.example/1.jpg')), 0)
})
