import t from 'tap'
import type { OutputEntry } from './entries.ts'
import { checkedKeys, entriesToInsert, type IndexWrite, keysOf, refusedWrites, sourceWrites } from './writes.ts'

const entry = (key: string): OutputEntry => ({
  key,
  scope: 's',
  sha256: 'c'.repeat(64),
  spec: key,
  output: { format: 'webp', width: 1, height: 1, bytes: 1 },
  source: { bytes: 1, width: 1, height: 1, format: 'jpeg' },
  cpu_ms: 1
})
const sha256 = 'a'.repeat(64)
const source = (url: string, etag?: string) => ({ scope: 's', url, validators: { sha256, ...(etag && { etag }) } })

t.test('a batch names each output key once, references and records alike', async (t) => {
  const writes: IndexWrite[] = [{ refer: ['a', 'b'] }, { record: [entry('b'), entry('c')] }, { refer: ['a'] }, {}]
  t.same(keysOf(writes), ['a', 'b', 'c'])
})

t.test('what the index does not hold at all is inserted, each key once; nothing being removed is', async (t) => {
  const found = { live: new Set(['a']), removing: new Set(['r']) }
  const writes: IndexWrite[] = [{ record: [entry('a'), entry('n')] }, { record: [entry('n'), entry('r')] }]
  t.same(
    entriesToInsert(writes, found).map((e) => e.key),
    ['n']
  )
})

t.test('an image is refused when any of its keys cannot be handed out', async (t) => {
  const found = { live: new Set(['live', 'new']), removing: new Set(['removing']) }
  const writes = new Map<number, IndexWrite>([
    [0, { refer: ['live'] }],
    [1, { refer: ['live', 'gone'] }], // removed meanwhile
    [2, { refer: ['removing'] }],
    [3, { record: [entry('live'), entry('new')] }],
    [4, { record: [entry('new'), entry('removing')] }],
    [5, { record: [entry('lost')] }], // another writer inserted it between the read and our insert
    [6, { record: [entry('inserted')] }],
    [7, { source: source('https://x.example/1.jpg') }],
    [8, { refer: ['inserted'] }], // the same bytes as image 6: its reference holds as 6's record does
    [9, { refer: ['lost'] }]
  ])
  t.same([...refusedWrites(writes, found, new Set(['lost']))], [1, 2, 4, 5, 9])
})

t.test(
  'outputs put found stored already are checked before their entries are written, if the index lacks them',
  async (t) => {
    const found = { live: new Set(['live']), removing: new Set(['removing']) }
    const writes: IndexWrite[] = [
      { record: [entry('live'), entry('inserted')], existed: ['live', 'inserted'] },
      { record: [entry('removing'), entry('other')], existed: ['removing', 'other'] },
      { record: [entry('inserted'), entry('fresh')], existed: ['inserted'] }
    ]
    t.same(checkedKeys(writes, found), ['inserted', 'other'])
  }
)

t.test('an output whose object retention deleted before its entry was written is not handed out', async (t) => {
  const found = { live: new Set(['live']), removing: new Set<string>() }
  const writes = new Map<number, IndexWrite>([
    [0, { record: [entry('gone')], existed: ['gone'] }],
    [1, { refer: ['gone'] }], // the same bytes later in the unit
    [2, { refer: ['live'] }],
    [3, { record: [entry('live')], existed: ['live'] }]
  ])
  t.same([...refusedWrites(writes, found, new Set(), new Set(['gone']))], [0, 1])
  t.same([...refusedWrites(writes, found, new Set(), new Set(['live']))], [2, 3], 'also an entry already live')
})

t.test('a source is inserted when new, replaced when changed, and not written when unchanged', async (t) => {
  const known = new Map([
    ['https://x.example/same.jpg', { sha256, etag: '"1"' }],
    ['https://x.example/changed.jpg', { sha256, etag: '"1"' }]
  ])
  const writes: IndexWrite[] = [
    { source: source('https://x.example/same.jpg', '"1"') },
    { source: source('https://x.example/changed.jpg', '"2"') },
    { source: source('https://x.example/new.jpg') },
    { refer: ['a'] }
  ]
  const { insert, replace } = sourceWrites(writes, (_scope, url) => known.get(url) ?? null)
  t.same(
    insert.map((s) => s.url),
    ['https://x.example/new.jpg']
  )
  t.same(
    replace.map((s) => s.url),
    ['https://x.example/changed.jpg']
  )
})
