import { existsSync } from 'node:fs'
import path from 'node:path'
import { objectMeta, type SweepData } from '@imgproc/core'
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
