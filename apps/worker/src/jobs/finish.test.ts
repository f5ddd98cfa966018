import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { type ImageRecord, imagesRecorded, retryPlan, type UnitData, unitArrival } from '@imgproc/core'
import pino from 'pino'
import t from 'tap'
import { type JobFixture, jobFixture } from '../../../../test/support/job-fixture.ts'
import { JobTakenOver } from './contract.ts'
import { type FinishDeps, finishProcessor } from './finish.ts'

// The finisher's processor on a real store and queue (the test run's MongoDB) and a FileStorage.
type Finisher = Record<string, never>
const fx = await jobFixture(t, pino({ level: 'silent' }))
const urls = {
  PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
  STORAGE_PUBLIC_URL: '',
  OUTPUT_URL_TTL_S: 0,
  OUTPUT_CSV_URL_TTL_S: 0,
  WEBHOOK_SECRET: 'x'
}
const processor = (extra: Partial<FinishDeps> = {}) =>
  finishProcessor({ store: fx.store, storage: fx.storage, urls, metrics: fx.metrics, ...extra })

/** A request of `n` images in units of one, each recorded (or not) and arrived, as finished units leave it. */
async function unitsArrived(fx: JobFixture, n: number, options: { record?: boolean; webhookUrl?: string } = {}) {
  const plan = await fx.request(
    Array.from({ length: n }, (_, i) => `https://images.example/${i}.jpg`),
    { unitSize: 1, ...(options.webhookUrl ? { webhookUrl: options.webhookUrl } : {}) }
  )
  const id = plan.request.request_id
  for (let i = 0; i < n; i++) {
    const unit = await fx.claim<UnitData>('images')
    const record: ImageRecord =
      i % 2
        ? { url: unit.context.data.images[0]!.url, status: 'failed', error: 'HTTP 404' }
        : {
            url: unit.context.data.images[0]!.url,
            status: 'succeeded',
            output_file: `${id}/${unit.context.data.first}.jpg`,
            bytes_in: 100,
            bytes_out: 40
          }
    await unit.end({
      kind: 'done',
      ...(options.record === false ? {} : { record: imagesRecorded([record], [0]) }),
      arrive: unitArrival(id, unit.context.data.n)
    })
  }
  return id
}

t.test('writes the output CSV once, makes the one Completed transition and queues one delivery', async (t) => {
  const id = await unitsArrived(fx, 3, { webhookUrl: 'https://hooks.example/h' })
  const csv = path.join(fx.dir, id, 'output.csv')
  const paused: boolean[] = []
  const claim = await fx.claim<Finisher>('finish')
  t.notOk(claim.context.resumed)
  const outcome = await processor({ beforeCsv: async () => void paused.push(existsSync(csv)) }).process(claim.context)
  t.same(outcome, { kind: 'done' })
  t.same(paused, [false], 'the pause hook ran after the claim, before the CSV')
  const doc = (await fx.store.find(id))!
  t.match(doc, {
    status: 'Completed',
    images: { total: 3, succeeded: 2, failed: 1, pending: 0, bytes_in: 200, bytes_out: 80 },
    output_csv: `http://127.0.0.1:3000/requests/${id}/output.csv`
  })
  const rows = readFileSync(csv, 'utf8').trim().split('\n')
  t.equal(rows.length, 4, 'a header and a row per product')
  t.match(rows[1], new RegExp(`^1,SKU1,https://images.example/0.jpg,http://127.0.0.1:3000/images/${id}/0.jpg$`))
  t.match(rows[2], /^2,SKU2,https:\/\/images.example\/1.jpg,$/, 'a failed image keeps its slot empty')
  const delivery = await fx.store.jobs.delivery(id)
  t.match(delivery, { state: 'pending', data: { url: 'https://hooks.example/h', state: 'pending', attempts: [] } })
  t.ok(await claim.end(outcome))

  t.test('a later run repeats nothing: same CSV, no second transition, the same event id', async (t) => {
    // As if the run had died after queueing the delivery but before its job was marked done.
    await fx.store.jobs.queueDelivery((await fx.store.find(id))!, 'https://hooks.example/other') // keyed: changes nothing
    const again = await processor().process({ ...claim.context, resumed: true })
    t.same(again, { kind: 'done' })
    t.same((await fx.store.find(id))!.completed_at, doc.completed_at, 'Completed once')
    t.equal((await fx.store.jobs.delivery(id))!.data.event_id, delivery!.data.event_id, 'one event id')
    t.equal(readFileSync(csv, 'utf8').trim().split('\n').length, 4)
  })
})

t.test('images not yet recorded: looks again shortly instead of finishing', async (t) => {
  const id = await unitsArrived(fx, 2, { record: false })
  const claim = await fx.claim<Finisher>('finish')
  const before = Date.now()
  const outcome = await processor().process(claim.context)
  t.match(outcome, { kind: 'retry' })
  t.ok(outcome.kind === 'retry' && outcome.at.getTime() >= before + 900, 'about a second later')
  t.equal((await fx.store.find(id))!.status, 'Pending')
  t.notOk(existsSync(path.join(fx.dir, id, 'output.csv')))
  await claim.end({ kind: 'done' })
})

t.test('taken over before the CSV: the run stops and writes nothing', async (t) => {
  const id = await unitsArrived(fx, 1)
  const claim = await fx.claim<Finisher>('finish', { leaseMs: 1 })
  const run = processor({
    beforeCsv: async () => {
      await new Promise((r) => setTimeout(r, 20))
      await fx.claim<Finisher>('finish') // the lease ran out and another worker claimed the finisher
    }
  }).process(claim.context)
  await t.rejects(run, JobTakenOver)
  t.notOk(existsSync(path.join(fx.dir, id, 'output.csv')), 'no CSV')
  t.equal((await fx.store.find(id))!.status, 'Pending', 'no transition')
})

t.test('a finisher whose runs kept dying marks its request Failed with the reason', async (t) => {
  const id = await unitsArrived(fx, 2, { webhookUrl: 'https://hooks.example/f' })
  const claim = await fx.claim<Finisher>('finish')
  const reason = 'abandoned: processing was interrupted 5 times (MAX_CLAIMS=5)'
  t.same(await processor().exhausted(claim.context, reason), { kind: 'failed', reason })
  t.match(await fx.store.find(id), { status: 'Failed', error: reason, images: { succeeded: 1, failed: 1 } })
  t.ok(await fx.store.jobs.delivery(id), 'the customer is still told')
  t.notOk(existsSync(path.join(fx.dir, id, 'output.csv')))
})

t.test('a finisher whose request document is gone fails with the reason', async (t) => {
  const id = await unitsArrived(fx, 1)
  await fx.store.requests.deleteOne({ request_id: id })
  const claim = await fx.claim<Finisher>('finish')
  t.same(await processor().process(claim.context), {
    kind: 'failed',
    reason: 'the request document does not exist (its upload never completed)'
  })
})

// Last: the retry leaves a re-queued unit that an images claim of a later test would take.
t.test('a cancelled request: its request.cancelled is queued even if a retry lands right after the CSV', async (t) => {
  const id = await unitsArrived(fx, 2, { webhookUrl: 'https://hooks.example/c' })
  t.ok(await fx.store.management.cancel(id))
  const claim = await fx.claim<Finisher>('finish')
  const retried: boolean[] = []
  const outcome = await processor({
    afterSettle: async () => {
      const doc = (await fx.store.find(id))!
      const plan = retryPlan(doc, await fx.store.jobs.unitImagesOf(id))
      if (!('refusal' in plan)) retried.push(await fx.store.management.retry(doc, plan))
    }
  }).process(claim.context)
  t.same(outcome, { kind: 'done' })
  t.same(retried, [true], 'the retry landed between the settled CSV and the event')
  t.match(await fx.store.find(id), { status: 'Processing', round: 1 })
  t.match(await fx.store.jobs.delivery(id, 0), {
    data: {
      type: 'request.cancelled',
      request: {
        request_id: id,
        status: 'Cancelled',
        images: { succeeded: 1, failed: 1 },
        output_csv: `http://127.0.0.1:3000/requests/${id}/output.csv`
      }
    }
  })
  await claim.end(outcome)
})
