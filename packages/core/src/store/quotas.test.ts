import { randomBytes } from 'node:crypto'
import { MongoClient } from 'mongodb'
import t from 'tap'
import { QuotaStore } from './quotas.ts'

const uri = process.env.MONGODB_URI
if (!uri) throw new Error('MONGODB_URI is not set: run the tests through `npm test`, which starts MongoDB')
const client = await MongoClient.connect(uri)
const db = client.db(`quota_${randomBytes(6).toString('hex')}`)
t.teardown(async () => {
  await db.dropDatabase()
  await client.close()
})
const quotas = new QuotaStore(db)
await quotas.ensureIndexes()

t.test('concurrent takes never pass the limit; the refusal says when the window resets', async (t) => {
  const now = Date.UTC(2026, 10, 24, 15, 20, 0)
  const results = await Promise.all(
    Array.from({ length: 30 }, () => quotas.take('k1', 'requests_per_hour', 1, 10, now))
  )
  t.equal(results.filter((r) => r.ok).length, 10, 'exactly the limit was granted')
  t.match(
    results.find((r) => !r.ok),
    { ok: false, retryAfterS: 40 * 60, limit: 10 }
  )
  t.ok((await quotas.take('k2', 'requests_per_hour', 1, 10, now)).ok, 'another tenant has its own')
  t.ok((await quotas.take('k1', 'requests_per_hour', 1, 10, now + 40 * 60_000)).ok, 'the next window starts afresh')
})

t.test('amounts: a take that would cross the limit is refused whole; giving back makes room', async (t) => {
  const now = Date.UTC(2026, 10, 24, 12)
  const took = await quotas.take('k3', 'images_per_day', 7, 10, now)
  t.ok(took.ok)
  t.match(await quotas.take('k3', 'images_per_day', 4, 10, now), { ok: false, never: false })
  t.match(
    await quotas.take('k3', 'images_per_day', 11, 10, now),
    { ok: false, never: true },
    'more than the whole budget: waiting will not help'
  )
  await quotas.giveBack('k3', 'images_per_day', 7, (took as { windowStart: number }).windowStart)
  t.ok((await quotas.take('k3', 'images_per_day', 10, 10, now)).ok)
  t.ok((await quotas.take('k3', 'images_per_day', 5, 0, now)).ok, 'limit 0: unlimited')
})
