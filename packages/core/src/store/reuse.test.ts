import { randomBytes } from 'node:crypto'
import { MongoClient } from 'mongodb'
import t from 'tap'
import type { OutputEntry } from '../reuse/entries.ts'
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
const at = (daysAgo: number) => new Date(Date.now() - daysAgo * day)

t.test('sources and outputs are per scope: another tenant finds nothing of them', async (t) => {
  await index.rememberSource(A, 'https://x.example/1.jpg', { sha256: sha, etag: '"1"' })
  t.same(await index.source(A, 'https://x.example/1.jpg'), { sha256: sha, etag: '"1"' })
  t.equal(await index.source(B, 'https://x.example/1.jpg'), null)
  t.ok(await index.record(entry(A, '1'.repeat(16)), at(0)))
  t.equal((await index.find(A, sha, ['1'.repeat(16)])).size, 1)
  t.equal((await index.find(B, sha, ['1'.repeat(16)])).size, 0)
  const unit = await index.forUnit(A, ['https://x.example/1.jpg'], ['1'.repeat(16)])
  t.same(await unit.source(A, 'https://x.example/1.jpg'), { sha256: sha, etag: '"1"' }, 'read once per unit')
  t.equal((await unit.find(A, sha, ['1'.repeat(16)])).get('1'.repeat(16))!.key, entry(A, '1'.repeat(16)).key)
  t.equal((await unit.find(B, sha, ['1'.repeat(16)])).size, 0, 'another scope still goes to the database')
})

t.test(
  'retention claims only what nobody referred to since the cutoff; a claimed entry takes no reference',
  async (t) => {
    const [old, used] = [entry(A, '2'.repeat(16)), entry(A, '3'.repeat(16))]
    t.ok(await index.record(old, at(3)))
    t.ok(await index.record(used, at(3)))
    t.ok(await index.refer([used.key], at(0)), 'a newer request refers to one of them')
    t.ok(await index.record(used, at(2)), 'recording again never moves last_ref_at back')
    const claimed = await index.claimUnreferenced(at(1), 100)
    t.ok(claimed.includes(old.key))
    t.notOk(claimed.includes(used.key), 'the one referred to since is kept')
    t.notOk(await index.refer([old.key], at(0)), 'no reference lands on an output being removed')
    t.notOk(await index.record(old, at(0)), 'nor a new record: the image is then stored privately')
    t.equal((await index.find(A, sha, [old.spec])).size, 0, 'and reuse does not find it')
    t.ok((await index.claimUnreferenced(at(1), 100)).includes(old.key), 'a sweep that died halfway finds it again')
    await index.forget(old.key)
    t.ok(await index.record(old, at(0)), 'once removed, it can be made and recorded again')
  }
)

t.test('a reference and a claim racing on one entry: exactly one wins', async (t) => {
  for (let i = 0; i < 20; i++) {
    const e = entry(A, `4${String(i).padStart(15, '0')}`)
    await index.record(e, at(3))
    const [referred, claimed] = await Promise.all([index.refer([e.key], at(0)), index.claimUnreferenced(at(1), 100)])
    t.not(referred, claimed.includes(e.key), `race ${i}: referred ${referred}, claimed ${claimed.includes(e.key)}`)
    if (claimed.includes(e.key)) await index.forget(e.key)
  }
})
