import { randomBytes } from 'node:crypto'
import { MongoClient } from 'mongodb'
import t from 'tap'
import { WorkQueue } from './queue.ts'
import type { Lease } from './queue-port.ts'

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
  t.same((await queue.ofRequest('r')).map((j) => j.key).sort(), ['idem-1', 'idem-2', 'idem-3'])
  await queue.removeRequest('r')
})

t.test('concurrent claims: every job goes to exactly one claimant', async (t) => {
  await queue.enqueue(Array.from({ length: 10 }, (_, i) => job(`c-${i}`)))
  const claims = await Promise.all(Array.from({ length: 40 }, (_, i) => queue.claim(`w${i}`, ['images'], 60_000)))
  const won = claims.filter((c): c is Lease => c !== null)
  t.equal(won.length, 10, '10 claims won, 30 found nothing')
  t.equal(new Set(won.map((c) => String(c.job._id))).size, 10, 'no job claimed twice')
  t.ok(won.every((c) => c.generation === 1 && c.job.claims === 1 && c.job.state === 'running'))
  t.equal(await queue.claim('late', ['images'], 60_000), null)
  await queue.removeRequest('r')
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
  t.notOk(await queue.save(first, { x: 1 }), 'the old holder’s progress write matches nothing')
  t.notOk(await queue.heartbeat(first))
  t.notOk(await queue.complete(first), 'nor can it complete the job')
  t.ok(await queue.save(second, { x: 2 }))
  t.ok(await queue.complete(second))
  t.match(await queue.find('fence'), { state: 'done', finished_by: 'b', data: { x: 2 } })
  t.notOk((await queue.find('fence'))!.due_at, 'a done job can never be claimed again')
  await queue.removeRequest('r')
})

t.test('release hands a job back without counting a failed claim; retry runs it later', async (t) => {
  await queue.enqueue([job('rel')])
  const a = (await queue.claim('a', ['images'], 60_000))!
  t.ok(await queue.release(a))
  const b = (await queue.claim('b', ['images'], 60_000))!
  t.equal(b.job.claims, 1, 'an orderly hand-back gives its claim back')
  const later = new Date(Date.now() + 60_000)
  t.ok(await queue.release(b, later, { attempts: [1] }))
  t.equal(await queue.claim('c', ['images'], 60_000), null, 'not before its time')
  t.equal((await queue.nextDueAt())?.getTime(), later.getTime(), 'the runner knows when to look again')
  t.same((await queue.find<{ attempts: number[] }>('rel'))!.data.attempts, [1])
  await queue.removeRequest('r')
})

t.test('a barrier job becomes due exactly when every distinct part has arrived', async (t) => {
  await queue.enqueue([{ kind: 'finish' as const, key: 'bar', request_id: 'r', data: {}, waitFor: 3 }])
  t.equal(await queue.claim('a', ['finish'], 60_000), null, 'waiting jobs are not claimable')
  await Promise.all([
    queue.arrive({ barrier: 'bar', part: 0 }),
    queue.arrive({ barrier: 'bar', part: 0 }),
    queue.arrive({ barrier: 'bar', part: 1 })
  ])
  t.match(await queue.find('bar'), { state: 'waiting' }, 'a part arriving twice counts once')
  // The last two parts at the same instant, many times over: exactly one transition, and it is due.
  await Promise.all([
    queue.arrive({ barrier: 'bar', part: 2 }),
    queue.arrive({ barrier: 'bar', part: 2 }),
    queue.arrive({ barrier: 'bar', part: 1 }),
    queue.arrive({ barrier: 'bar', part: 2 })
  ])
  const done = (await queue.find('bar'))!
  t.equal(done.state, 'pending')
  t.same([...done.barrier!.arrived].sort(), [0, 1, 2])
  t.ok(done.due_at, 'due now')
  const claimed = await Promise.all([queue.claim('a', ['finish'], 60_000), queue.claim('b', ['finish'], 60_000)])
  t.equal(claimed.filter(Boolean).length, 1, 'one finisher')
  await queue.arrive({ barrier: 'bar', part: 2 })
  t.match(await queue.find('bar'), { state: 'running' }, 'a late arrival changes nothing')
  await queue.removeRequest('r')
})

t.test('claims filter by kind', async (t) => {
  await queue.enqueue([{ kind: 'webhook', key: 'k-w', request_id: 'r', data: {} }])
  t.equal(await queue.claim('a', ['images'], 60_000), null)
  t.match(await queue.claim('a', ['images', 'webhook'], 60_000), { job: { kind: 'webhook' } })
  await queue.removeRequest('r')
})

t.test('patches set fields inside the data; typed reads return only what they ask for', async (t) => {
  await queue.enqueue<object>([
    job('p-0', { data: { n: 0, images: ['a', 'b'], tally: 0 } }),
    job('p-1', { data: { n: 1, images: ['c'], tally: 0 }, held: true }),
    { kind: 'finish', key: 'p-other-kind', request_id: 'r', data: {}, waitFor: 2 },
    { kind: 'images', key: 'p-other-request', request_id: 'q', data: { n: 9, tally: 9 } }
  ])
  const lease = (await queue.claim<{ n: number }>('a', ['images'], 60_000))!
  t.ok(await queue.save(lease, { 'images.1': 'B', tally: 1 }), 'a path inside an array, and a whole field')
  t.ok(await queue.fail(lease, 'because', { tally: 2 }))
  t.match(await queue.find(lease.job.key), {
    state: 'failed',
    error: 'because',
    data: { images: ['a', 'B'], tally: 2 }
  })
  type Unit = { n: number; images: string[]; tally: number }
  t.same(
    (await queue.dataByRequest<Unit, 'tally'>('r', 'images', ['tally'])).map((d) => d.tally).sort(),
    [0, 2],
    "one kind of one request's jobs, only the field asked for"
  )
  t.same(
    await queue.dataByKeys<Unit, 'n' | 'images'>(['p-1', 'p-missing'], ['n', 'images']),
    [{ n: 1, images: ['c'] }],
    'by key; a key with no job is left out'
  )
  t.same(await queue.dataByKeys<Unit, 'n'>([], ['n']), [])
  t.equal(await queue.removeRequest('r'), 3, 'every job of the request, whatever its kind')
  t.equal((await queue.ofRequest('q')).length, 1, 'and no other request’s')
  await queue.removeRequest('q')
})

t.test("cancelling a request's jobs: never claimed again, and a holder is fenced off at its next write", async (t) => {
  await queue.enqueue([job('x-pending', { request_id: 'x' }), job('x-running', { request_id: 'x' })])
  await queue.enqueue([{ kind: 'finish', key: 'x-finish', request_id: 'x', data: {}, waitFor: 2 }])
  const holder = (await queue.claim('w1', ['images'], 60_000))!
  await queue.enqueue([job('y-other', { request_id: 'y' })])
  t.equal(await queue.cancelOpen('x', 'images'), 2)
  t.equal(await queue.heartbeat(holder), false, 'the holder learns it lost the job')
  t.equal(await queue.save(holder, { n: 1 }), false)
  t.equal(await queue.complete(holder), false)
  const next = await queue.claim('w2', ['images'], 60_000)
  t.equal(next?.job.request_id, 'y', "only another request's job is claimed")
  t.same(
    (await queue.ofRequest('x', 'images')).map((j) => j.state),
    ['cancelled', 'cancelled']
  )
  t.ok(await queue.dueNow('x-finish'), 'the waiting finisher is due at once')
  t.notOk(await queue.dueNow('x-finish'), 'once')
  t.equal((await queue.claim('w3', ['finish'], 60_000))?.job.key, 'x-finish')
  await queue.removeRequest('x')
  await queue.removeRequest('y')
})

t.test('reopening an ended job: pending again (or waiting for a barrier), claims from zero', async (t) => {
  await queue.enqueue([job('z-unit', { request_id: 'z' })])
  await queue.enqueue([{ kind: 'finish', key: 'z-finish', request_id: 'z', data: {}, waitFor: 1 }])
  const first = (await queue.claim('w1', ['images'], 60_000))!
  t.ok(await queue.complete(first))
  await queue.arrive({ barrier: 'z-finish', part: 0 })
  const finisher = (await queue.claim('w1', ['finish'], 60_000))!
  t.ok(await queue.complete(finisher))
  t.notOk(await queue.reopen('z-missing', {}), 'nothing to reopen')

  t.ok(await queue.reopen('z-finish', {}, { waitFor: 1 }))
  t.match(await queue.find('z-finish'), { state: 'waiting', claims: 0, barrier: { needed: 1, arrived: [] } })
  t.notOk(await queue.reopen('z-finish', {}, { waitFor: 1 }), 'a waiting job is not reopened again')
  t.ok(await queue.reopen('z-unit', { key: 'again' }))
  const again = (await queue.claim('w2', ['images'], 60_000))!
  t.match(again.job, { key: 'z-unit', claims: 1, generation: 2, data: { key: 'again' } })
  t.equal(await queue.heartbeat(first), false, 'the first run stays fenced off')
  await queue.removeRequest('z')
})

t.test('latest: of the jobs with the given keys, the one enqueued last; null if none exists', async (t) => {
  await queue.enqueue([job('latest-0')])
  await new Promise((r) => setTimeout(r, 5)) // two enqueues in one millisecond would tie
  await queue.enqueue([job('latest-1')])
  t.equal((await queue.latest(['latest-0', 'latest-1', 'latest-2']))?.key, 'latest-1')
  t.equal((await queue.latest(['latest-0', 'latest-2']))?.key, 'latest-0')
  t.equal(await queue.latest(['latest-2']), null)
})
