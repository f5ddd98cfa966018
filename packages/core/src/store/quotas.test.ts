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

t.test('exhausted: read before a body, it names the first quota with nothing left, and when it resets', async (t) => {
  const now = Date.UTC(2026, 10, 24, 15, 20, 0)
  const limits = { requests_per_hour: 2, images_per_day: 5 }
  t.equal(await quotas.exhausted('k4', limits, now), null, 'nothing used yet')
  t.ok((await quotas.take('k4', 'images_per_day', 4, 5, now)).ok)
  t.equal(await quotas.exhausted('k4', limits, now), null, 'one image left is room for an upload')
  t.ok((await quotas.take('k4', 'images_per_day', 1, 5, now)).ok)
  t.same(await quotas.exhausted('k4', limits, now), {
    quota: 'images_per_day',
    limit: 5,
    retryAfterS: 8 * 3600 + 40 * 60
  })
  t.ok((await quotas.take('k5', 'requests_per_hour', 1, 2, now)).ok)
  t.ok((await quotas.take('k5', 'requests_per_hour', 1, 2, now)).ok)
  t.same(await quotas.exhausted('k5', limits, now), { quota: 'requests_per_hour', limit: 2, retryAfterS: 40 * 60 })
  t.equal(await quotas.exhausted('k5', limits, now + 40 * 60_000), null, 'the next hour starts afresh')
  t.equal(await quotas.exhausted('k5', { requests_per_hour: 0, images_per_day: 0 }, now), null, 'limit 0: unlimited')
})
