import { existsSync } from 'node:fs'
import path from 'node:path'
import { type OutputEntry, objectMeta, ReuseIndex, type SweepData } from '@imgproc/core'
import pino from 'pino'
import t from 'tap'
import { jobFixture } from '../../../../test/support/job-fixture.ts'
import { retentionProcessor } from './retention.ts'

// The retention sweep on a real store and queue (the test run's MongoDB) and a FileStorage.
const fx = await jobFixture(t, pino({ level: 'silent' }))
const DAY = 86_400_000
const sweep = (days: number) => retentionProcessor({ store: fx.store, storage: fx.storage, days, everyMs: 60_000 })

/** A request with one stored file, finished `ago` ms ago (or never, with null). */
async function request(ago: number | null) {
  const plan = await fx.request(['https://images.example/0.jpg'])
  const id = plan.request.request_id
  await fx.storage.put(`${id}/0.jpg`, Buffer.from('jpeg'), objectMeta(`${id}/0.jpg`))
  if (ago !== null)
    await fx.store.finish(id, { status: 'Completed', images: plan.request.images }, new Date(Date.now() - ago))
  return id
}

t.test('removes what expired (documents, jobs and files), keeps the rest, and comes back later', async (t) => {
  const [old, fresh, running] = [await request(2 * DAY), await request(DAY / 2), await request(null)]
  await fx.store.storeWebhookEvent({
    event_id: 'e-old',
    request_id: old,
    received_at: new Date(Date.now() - 2 * DAY),
    payload: {}
  })
  await fx.store.storeWebhookEvent({ event_id: 'e-new', request_id: fresh, received_at: new Date(), payload: {} })
  await fx.store.jobs.scheduleRetention()
  const claim = await fx.claim<SweepData>('retention')
  const before = Date.now()
  const outcome = await sweep(1).process(claim.context)
  t.match(outcome, { kind: 'retry', forgetCrashes: true, record: { removed: 1 } })
  t.ok(outcome.kind === 'retry' && outcome.at.getTime() >= before + 60_000, 'the next sweep, a period later')
  t.notOk(await fx.store.find(old), 'the expired request is gone')
  t.same(await fx.store.queue.ofRequest(old), [], 'with its jobs')
  t.notOk(existsSync(path.join(fx.dir, old)), 'and its files')
  for (const id of [fresh, running]) {
    t.ok(await fx.store.find(id), 'a request finished recently, or still running, stays')
    t.ok(existsSync(path.join(fx.dir, id, '0.jpg')))
  }
  t.equal(
    await fx.store.storeWebhookEvent({ event_id: 'e-old', request_id: old, received_at: new Date(), payload: {} }),
    true,
    'an old received event is forgotten'
  )
  t.equal(
    await fx.store.storeWebhookEvent({ event_id: 'e-new', request_id: fresh, received_at: new Date(), payload: {} }),
    false,
    'a recent one is kept'
  )
  t.ok(await claim.end(outcome))
  t.match(await fx.store.jobs.retention(), { state: 'pending', claims: 0, data: { removed: 1 } })
})

t.test('with no retention period it removes nothing, and still comes back', async (t) => {
  const old = await request(30 * DAY)
  const claim = await fx.claim<SweepData>('retention', { at: new Date(Date.now() + 61_000) })
  const outcome = await sweep(0).process(claim.context)
  t.match(outcome, { kind: 'retry', record: { removed: 0 } })
  t.ok(await fx.store.find(old))
  t.ok(await claim.end(outcome))
})

t.test('a sweep that keeps dying skips a run rather than giving up for good', async (t) => {
  const claim = await fx.claim<SweepData>('retention', { at: new Date(Date.now() + 61_000) })
  const outcome = await sweep(1).exhausted(claim.context, 'abandoned')
  t.match(outcome, { kind: 'retry', forgetCrashes: true })
})

t.test("a worker's clock behind the API's does not cost a kept request its shared outputs", async (t) => {
  const index = new ReuseIndex(fx.db)
  await index.ensureIndexes()
  // The oldest request kept: the API created it two days ago by its clock, and it finished half a day ago.
  const kept = await request(DAY / 2)
  const created = new Date(Date.now() - 2 * DAY)
  await fx.store.requests.updateOne({ request_id: kept }, { $set: { created_at: created } })
  const entry = (key: string): OutputEntry => ({
    key,
    scope: '0'.repeat(32),
    sha256: key,
    spec: 'a'.repeat(16),
    output: { format: 'webp', width: 1, height: 1, bytes: 4 },
    source: { bytes: 4, width: 1, height: 1, format: 'jpeg' },
    cpu_ms: 1
  })
  const [used, unused] = ['o/s/used.webp', 'o/s/unused.webp']
  // A worker whose clock is ten minutes behind the API's referred to `used` for that request.
  const record = async (e: OutputEntry, at: Date) =>
    (
      await index.write(
        new Map([[0, { record: [e] }]]),
        at,
        () => null,
        async () => true
      )
    ).size === 0
  t.ok(await record(entry(used), new Date(created.getTime() - 10 * 60_000)))
  t.ok(await record(entry(unused), new Date(Date.now() - 3 * DAY)))
  for (const key of [used, unused]) await fx.storage.put(key, Buffer.from('webp'), objectMeta(key))

  // After the sweeps above, this one is due once their leases and periods are over.
  const claim = await fx.claim<SweepData>('retention', { at: new Date(Date.now() + 10 * 60_000) })
  const sweepWithReuse = retentionProcessor({
    store: fx.store,
    storage: fx.storage,
    reuse: index,
    days: 1,
    everyMs: 60_000
  })
  t.ok(await claim.end(await sweepWithReuse.process(claim.context)))
  t.equal(await index.outputs.countDocuments({ _id: unused }), 0, 'an output nobody refers to goes')
  t.notOk(existsSync(path.join(fx.dir, unused)))
  t.equal(await index.outputs.countDocuments({ _id: used }), 1, 'the one the kept request uses stays')
  t.ok(existsSync(path.join(fx.dir, used)), 'with its object')
})
