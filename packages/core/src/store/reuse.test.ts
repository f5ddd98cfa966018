import { randomBytes } from 'node:crypto'
import { MongoClient } from 'mongodb'
import t from 'tap'
import type { OutputEntry } from '../reuse/entries.ts'
import type { IndexWrite } from '../reuse/writes.ts'
import { ReuseIndex } from './reuse.ts'

const uri = process.env.MONGODB_URI
if (!uri) throw new Error('MONGODB_URI is not set: run the tests through `npm test`, which starts MongoDB')
const client = await MongoClient.connect(uri)
const db = client.db(`reuse_${randomBytes(6).toString('hex')}`)
t.teardown(async () => {
  await db.dropDatabase()
  await client.close()
})
const index = new ReuseIndex(db)
await index.ensureIndexes()

const [A, B] = ['a'.repeat(32), 'b'.repeat(32)]
const sha = 'c'.repeat(64)
const entry = (scope: string, spec: string): OutputEntry => ({
  key: `o/${scope}/${sha}-${spec}.webp`,
  scope,
  sha256: sha,
  spec,
  output: { format: 'webp', width: 10, height: 10, bytes: 100 },
  source: { bytes: 1000, width: 10, height: 10, format: 'jpeg' },
  cpu_ms: 12
})
const day = 86_400_000
/** Update statements the server ran on this spec's reuse collections (`top`: this database only, whatever else runs). */
const updates = async () => {
  const { totals } = await db.admin().command({ top: 1 })
  return ['outputs', 'sources'].reduce((n, c) => n + (totals[`${db.databaseName}.${c}`]?.update.count ?? 0), 0)
}
const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day)
/** The storage's answer to whether an object is there: this spec has no storage, and puts never found one. */
const stored = async () => true
/** One image's write, alone in its batch: whether it holds. */
const holds = async (write: IndexWrite, at: Date) =>
  (await index.write(new Map([[0, write]]), at, () => null, stored)).size === 0
const record = (e: OutputEntry, at: Date) => holds({ record: [e] }, at)
const refer = (keys: string[], at: Date) => holds({ refer: keys }, at)

t.test('sources and outputs are per scope: another tenant finds nothing of them', async (t) => {
  const source = { scope: A, url: 'https://x.example/1.jpg', validators: { sha256: sha, etag: '"1"' } }
  t.same([...(await index.write(new Map([[0, { source }]]), at(0), () => null, stored))], [])
  t.same(await index.source(A, 'https://x.example/1.jpg'), { sha256: sha, etag: '"1"' })
  t.equal(await index.source(B, 'https://x.example/1.jpg'), null)
  t.ok(await record(entry(A, '1'.repeat(16)), at(0)))
  t.equal((await index.find(A, sha, ['1'.repeat(16)])).size, 1)
  t.equal((await index.find(B, sha, ['1'.repeat(16)])).size, 0)
  const unit = await index.forUnit(A, ['https://x.example/1.jpg'], ['1'.repeat(16)], stored)
  t.same(await unit.source(A, 'https://x.example/1.jpg'), { sha256: sha, etag: '"1"' }, 'read once per unit')
  t.equal((await unit.find(A, sha, ['1'.repeat(16)])).get('1'.repeat(16))!.key, entry(A, '1'.repeat(16)).key)
  t.equal((await unit.find(B, sha, ['1'.repeat(16)])).size, 0, 'another scope still goes to the database')
})

t.test(
  'retention claims only what nobody referred to since the cutoff; a claimed entry takes no reference',
  async (t) => {
    const [old, used] = [entry(A, '2'.repeat(16)), entry(A, '3'.repeat(16))]
    t.ok(await record(old, at(3)))
    t.ok(await record(used, at(3)))
    t.ok(await refer([used.key], at(0)), 'a newer request refers to one of them')
    t.ok(await record(used, at(2)), 'recording again never moves last_ref_at back')
    const claimed = await index.claimUnreferenced(at(1), 100)
    t.ok(claimed.includes(old.key))
    t.notOk(claimed.includes(used.key), 'the one referred to since is kept')
    t.notOk(await refer([old.key], at(0)), 'no reference lands on an output being removed')
    t.notOk(await record(old, at(0)), 'nor a new record: the image is then stored privately')
    t.equal((await index.find(A, sha, [old.spec])).size, 0, 'and reuse does not find it')
    t.ok((await index.claimUnreferenced(at(1), 100)).includes(old.key), 'a sweep that died halfway finds it again')
    await index.forget(old.key)
    t.ok(await record(old, at(0)), 'once removed, it can be made and recorded again')
  }
)

t.test('a reference and a claim racing on one entry: exactly one wins', async (t) => {
  for (let i = 0; i < 20; i++) {
    const e = entry(A, `4${String(i).padStart(15, '0')}`)
    await record(e, at(3))
    const [referred, claimed] = await Promise.all([refer([e.key], at(0)), index.claimUnreferenced(at(1), 100)])
    t.not(referred, claimed.includes(e.key), `race ${i}: referred ${referred}, claimed ${claimed.includes(e.key)}`)
    if (claimed.includes(e.key)) await index.forget(e.key)
  }
})

t.test("a unit's writes land at its flush, one batch for many images; refused ones are named", async (t) => {
  const C = 'd'.repeat(32)
  const url = (i: number) => `https://x.example/unit/${i}.jpg`
  const spec = (i: number) => `5${String(i).padStart(15, '0')}`
  const indexed = Array.from({ length: 10 }, (_, i) => entry(C, spec(i)))
  for (const e of indexed) t.ok(await record(e, at(0)))
  const [oldRefer, oldRecord] = [entry(C, spec(98)), entry(C, spec(99))]
  t.ok(await record(oldRefer, at(3)))
  t.ok(await record(oldRecord, at(3)))
  const unit = await index.forUnit(C, [], [], stored)
  const source = (i: number) => ({ scope: C, url: url(i), validators: { sha256: sha, etag: `"${i}"` } })
  for (let i = 0; i < 10; i++) unit.defer(i, { refer: [indexed[i]!.key], source: source(i) })
  for (let i = 10; i < 20; i++) unit.defer(i, { record: [entry(C, spec(i))], source: source(i) })
  const made = entry(C, spec(10))
  t.same((await unit.find(C, sha, [made.spec])).get(made.spec), made, 'later images find what one made')
  unit.defer(22, { refer: [made.key] }) // the same bytes again: its reference holds as image 10's record does
  unit.defer(20, { refer: [oldRefer.key], source: source(20) })
  unit.defer(21, { record: [oldRecord], source: source(21) })
  // Retention marks both old entries while the images that want them are still at work.
  const claimed = await index.claimUnreferenced(at(1), 100)
  t.ok(claimed.includes(oldRefer.key) && claimed.includes(oldRecord.key))

  const before = await updates()
  const flushedAt = new Date()
  const refused = await unit.flush(
    Array.from({ length: 22 }, (_, i) => i),
    flushedAt
  )
  t.same([...refused].sort(), [20, 21], 'the reference and the record of entries being removed are refused')
  t.equal((await updates()) - before, 1, 'one update for the batch: a $max over all its keys; new entries inserted')
  const docs = await index.outputs.find({ scope: C, spec: { $in: indexed.map((e) => e.spec) } }).toArray()
  t.ok(
    docs.length === 10 && docs.every((d) => d.last_ref_at.getTime() === flushedAt.getTime()),
    'referred at the flush'
  )
  const recorded = await index.find(
    C,
    sha,
    Array.from({ length: 10 }, (_, i) => spec(10 + i))
  )
  t.equal(recorded.size, 10, 'recorded')
  t.equal(await index.source(C, url(3)).then((s) => s?.etag), '"3"')
  t.equal(await index.source(C, url(20)), null, 'no source remembered for a refused image')
  t.equal(await index.source(C, url(21)), null)
  t.same([...(await unit.flush([0, 1, 20]))], [], 'written once: nothing is left for a later flush')
  for (const e of [oldRefer, oldRecord])
    t.equal((await unit.find(C, sha, [e.spec])).get(e.spec), undefined, 'later images do not find refused ones')

  const again = await index.forUnit(C, [url(0), url(1)], [], stored)
  again.defer(0, { refer: [indexed[0]!.key], source: source(0) })
  again.defer(1, { refer: [indexed[1]!.key], source: { ...source(1), validators: { sha256: sha, etag: '"new"' } } })
  const next = await updates()
  t.same([...(await again.flush([0, 1]))], [])
  t.equal((await updates()) - next, 2, 'an unchanged source is not written again; a changed one is replaced')
  t.equal(await index.source(C, url(1)).then((s) => s?.etag), '"new"')
})

t.test('two units recording the same new output at once: both hold, one inserts and the other refers', async (t) => {
  const D = 'e'.repeat(32)
  for (let i = 0; i < 20; i++) {
    const e = entry(D, `6${String(i).padStart(15, '0')}`)
    const units = await Promise.all([index.forUnit(D, [], [], stored), index.forUnit(D, [], [], stored)])
    for (const unit of units) unit.defer(0, { record: [e] })
    const refused = await Promise.all(units.map((unit) => unit.flush([0])))
    t.same(
      refused.map((r) => r.size),
      [0, 0],
      `race ${i}: neither refused`
    )
  }
})
