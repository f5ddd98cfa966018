import { type DeliveryData, ID_HEADER, SIGNATURE_HEADER, signPayload } from '@imgproc/core'
import pino from 'pino'
import t from 'tap'
import { jobFixture } from '../../../../test/support/job-fixture.ts'
import { startWebhookReceiver } from '../../../../test/support/servers.ts'
import { type WebhookDeps, webhookProcessor } from './webhook.ts'

// The delivery processor on a real store and queue (the test run's MongoDB), posting to a receiver on 127.0.0.1.
const fx = await jobFixture(t, pino({ level: 'silent' }))
const codes: number[] = []
const receiver = await startWebhookReceiver((n) => codes[n - 1] ?? 200)
t.teardown(() => receiver.close())
const config: WebhookDeps['config'] = {
  WEBHOOK_SECRET: 'spec-secret',
  WEBHOOK_TIMEOUT_MS: 5000,
  WEBHOOK_MAX_ATTEMPTS: 2,
  WEBHOOK_BACKOFF_MS: 1000,
  ALLOW_PRIVATE_NETWORKS: true,
  PUBLIC_BASE_URL: 'http://127.0.0.1:3000',
  STORAGE_PUBLIC_URL: '',
  OUTPUT_URL_TTL_S: 0
}
const processor = (extra: Partial<WebhookDeps['config']> = {}) =>
  webhookProcessor({ store: fx.store, config: { ...config, ...extra }, concurrency: 1, metrics: fx.metrics })

/** A Completed request whose delivery to `url` is queued. */
async function completed(url = `${receiver.url}/hook`) {
  const plan = await fx.request(['https://images.example/0.jpg'])
  const id = plan.request.request_id
  await fx.store.finish(id, { status: 'Completed', images: { ...plan.request.images, pending: 0, succeeded: 1 } })
  await fx.store.jobs.queueDelivery((await fx.store.find(id))!, url)
  return id
}

t.test('one signed attempt per claim: delivered on a 2xx', async (t) => {
  const id = await completed()
  const claim = await fx.claim<DeliveryData>('webhook')
  const outcome = await processor().process(claim.context)
  t.match(outcome, { kind: 'done' })
  t.ok(await claim.end(outcome))
  const job = (await fx.store.jobs.delivery(id))!
  t.match(job, { state: 'done', data: { state: 'delivered', attempts: [{ status_code: 200 }] } })
  t.ok(job.data.delivered_at, 'with the time it was delivered')
  const got = receiver.received.at(-1)!
  t.equal(got.headers[ID_HEADER], job.data.event_id)
  t.equal(got.headers[SIGNATURE_HEADER], signPayload('spec-secret', got.body), 'signed')
  t.match(JSON.parse(got.body), { event_id: job.data.event_id, request_id: id, status: 'Completed' })
})

t.test('a failed attempt is recorded and retried later; the last allowed one gives up', async (t) => {
  codes.length = receiver.received.length
  codes.push(500, 503)
  const id = await completed()
  const first = await fx.claim<DeliveryData>('webhook')
  const before = Date.now()
  const retry = await processor({ WEBHOOK_BACKOFF_MS: 50 }).process(first.context)
  t.match(retry, { kind: 'retry' })
  t.ok(retry.kind === 'retry' && retry.at.getTime() >= before + 25, 'after a backoff')
  t.ok(await first.end(retry))
  t.match(await fx.store.jobs.delivery(id), {
    state: 'pending',
    claims: 0,
    data: { state: 'pending', attempts: [{ status_code: 500, error: 'HTTP 500' }] }
  })
  await new Promise((r) => setTimeout(r, 100))
  const second = await fx.claim<DeliveryData>('webhook')
  t.equal(second.context.data.attempts.length, 1, 'the next run sees the attempt made')
  const gaveUp = await processor().process(second.context)
  t.same(gaveUp.kind === 'failed' && gaveUp.reason, 'gave up after 2 attempts')
  t.ok(await second.end(gaveUp))
  t.match(await fx.store.jobs.delivery(id), {
    state: 'failed',
    data: { state: 'failed', attempts: [{ status_code: 500 }, { status_code: 503 }] }
  })
})

t.test('a receiver our URL policy refuses is not retried', async (t) => {
  const seen = receiver.received.length
  const id = await completed()
  const claim = await fx.claim<DeliveryData>('webhook')
  const outcome = await processor({ ALLOW_PRIVATE_NETWORKS: false }).process(claim.context)
  t.match(outcome, { kind: 'failed', reason: /^not retried: / })
  t.ok(await claim.end(outcome))
  t.match(await fx.store.jobs.delivery(id), { state: 'failed', data: { state: 'failed', attempts: [{}] } })
  t.equal(receiver.received.length, seen, 'nothing was sent')
})

t.test('a request removed before delivery, and a delivery whose runs kept dying, fail with a reason', async (t) => {
  const id = await completed()
  await fx.store.requests.deleteOne({ request_id: id })
  const claim = await fx.claim<DeliveryData>('webhook')
  t.same(await processor().process(claim.context), {
    kind: 'failed',
    reason: 'the request was removed before its webhook was delivered'
  })
  const outcome = await processor().exhausted(claim.context, 'abandoned')
  t.match(outcome, { kind: 'failed', reason: 'abandoned' })
  t.ok(await claim.end(outcome))
  t.match(await fx.store.jobs.delivery(id), { state: 'failed', error: 'abandoned', data: { state: 'failed' } })
})
