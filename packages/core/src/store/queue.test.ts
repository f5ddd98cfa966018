import { randomBytes } from 'node:crypto'
import { MongoClient } from 'mongodb'
import t from 'tap'
import { type Lease, WorkQueue } from './queue.ts'

// Against the real MongoDB the test run provides (MONGODB_URI): the queue's guarantees are the server's.
const uri = process.env.MONGODB_URI
if (!uri) throw new Error('MONGODB_URI is not set: run the tests through `npm test`, which starts MongoDB')
const client = await MongoClient.connect(uri)
const db = client.db(`q_${randomBytes(6).toString('hex')}`)
t.teardown(async () => {
  await db.dropDatabase()
  await client.close()
})
const queue = new WorkQueue(db)
await queue.ensureIndexes()
const job = (key: string, extra: object = {}) => ({
  kind: 'images' as const,
  key,
  request_id: 'r',
  data: { key },
  ...extra
})

t.test('enqueue is idempotent by key', async (t) => {
  await queue.enqueue([job('idem-1'), job('idem-2')])
  await queue.enqueue([job('idem-1'), job('idem-3')])
  t.equal(await queue.jobs.countDocuments({ key: /^idem-/ }), 3)
  await queue.jobs.deleteMany({})
})

t.test('concurrent claims: every job goes to exactly one claimant', async (t) => {
  await queue.enqueue(Array.from({ length: 10 }, (_, i) => job(`c-${i}`)))
  const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => queue.claim(`w${i}`, ['images'], 60_000)))
  const won = claims.filter((c): c is Lease => c !== null)
  t.equal(won.length, 10, '10 claims won, 30 found nothing')
  t.equal(new Set(won.map((c) => String(c.job._id))).size, 10, 'no job claimed twice')
  t.ok(won.every((c) => c.generation === 1 && c.job.claims === 1 && c.job.state === 'running'))
  t.equal(await queue.claim('late', ['images'], 60_000), null)
  await queue.jobs.deleteMany({})
})

t.test('a lease that runs out is taken over, and the old holder is fenced off', async (t) => {
  await queue.enqueue([job('fence')])
  const first = (await queue.claim('a', ['images'], 50))!
  t.ok(await queue.heartbeat(first), 'the holder extends its lease')
  t.equal(await queue.claim('b', ['images'], 60_000), null, 'not claimable while the lease runs')
  await new Promise((r) => setTimeout(r, 80))
  const second = (await queue.claim('b', ['images'], 60_000))!
  t.ok(second, 'claimable once the lease ran out')
  t.equal(second.generation, 2)
  t.equal(second.job.claims, 2, 'the dead holder’s claim counts')
  t.notOk(await queue.save(first, { $set: { 'data.x': 1 } }), 'the old holder’s progress write matches nothing')
  t.notOk(await queue.heartbeat(first))
  t.notOk(await queue.complete(first), 'nor can it complete the job')
  t.ok(await queue.save(second, { $set: { 'data.x': 2 } }))
  t.ok(await queue.complete(second))
  t.match(await queue.find('fence'), { state: 'done', finished_by: 'b', data: { x: 2 } })
  t.notOk((await queue.find('fence'))!.due_at, 'a done job can never be claimed again')
  await queue.jobs.deleteMany({})
})

t.test('release hands a job back without counting a failed claim; retry runs it later', async (t) => {
  await queue.enqueue([job('rel')])
  const a = (await queue.claim('a', ['images'], 60_000))!
  t.ok(await queue.release(a))
  const b = (await queue.claim('b', ['images'], 60_000))!
  t.equal(b.job.claims, 1, 'an orderly hand-back gives its claim back')
  const later = new Date(Date.now() + 60_000)
  t.ok(await queue.release(b, later, { $push: { 'data.attempts': 1 } }))
  t.equal(await queue.claim('c', ['images'], 60_000), null, 'not before its time')
  t.equal((await queue.nextDueAt())?.getTime(), later.getTime(), 'the runner knows when to look again')
  t.same((await queue.find<{ attempts: number[] }>('rel'))!.data.attempts, [1])
  await queue.jobs.deleteMany({})
})

t.test('a barrier job becomes due exactly when every distinct part has arrived', async (t) => {
  await queue.enqueue([{ kind: 'finish', key: 'bar', request_id: 'r', data: {}, waitFor: 3 }])
  t.equal(await queue.claim('a', ['finish'], 60_000), null, 'waiting jobs are not claimable')
  await Promise.all([queue.arrive('bar', 0), queue.arrive('bar', 0), queue.arrive('bar', 1)])
  t.match(await queue.find('bar'), { state: 'waiting' }, 'a part arriving twice counts once')
  // The last two parts at the same instant, many times over: exactly one transition, and it is due.
  await Promise.all([queue.arrive('bar', 2), queue.arrive('bar', 2), queue.arrive('bar', 1), queue.arrive('bar', 2)])
  const done = (await queue.find('bar'))!
  t.equal(done.state, 'pending')
  t.same([...done.barrier!.arrived].sort(), [0, 1, 2])
  t.ok(done.due_at, 'due now')
  const claimed = await Promise.all([queue.claim('a', ['finish'], 60_000), queue.claim('b', ['finish'], 60_000)])
  t.equal(claimed.filter(Boolean).length, 1, 'one finisher')
  await queue.arrive('bar', 2)
  t.match(await queue.find('bar'), { state: 'running' }, 'a late arrival changes nothing')
  await queue.jobs.deleteMany({})
})

t.test('claims filter by kind', async (t) => {
  await queue.enqueue([{ kind: 'webhook', key: 'k-w', data: {} }])
  t.equal(await queue.claim('a', ['images'], 60_000), null)
  t.match(await queue.claim('a', ['images', 'webhook'], 60_000), { job: { kind: 'webhook' } })
  await queue.jobs.deleteMany({})
})
