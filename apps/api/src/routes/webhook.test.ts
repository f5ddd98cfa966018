import { randomUUID } from 'node:crypto'
import { signPayload } from '@imgproc/core'
import t from 'tap'
import { ERROR_KEYS, specApp, WEBHOOK_SECRET } from '../../test/spec-app.ts'

type App = Awaited<ReturnType<typeof specApp>>['app']

const send = (app: App, body: string, headers: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url: '/webhook',
    payload: body,
    headers: { 'content-type': 'application/json', ...headers }
  })

t.test('a correctly signed event is stored once, however often it is delivered', async (t) => {
  const { app, db } = await specApp(t)
  const event = { event_id: randomUUID(), request_id: randomUUID(), type: 'request.completed' }
  const body = JSON.stringify(event)
  const first = await send(app, body, {
    'webhook-signature': signPayload(WEBHOOK_SECRET, body),
    'webhook-id': event.event_id
  })
  t.equal(first.statusCode, 204)
  t.equal(first.body, '')
  // A retry is signed again (a new timestamp) and carries the same event.
  const retry = await send(app, body, {
    'webhook-signature': signPayload(WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000) - 5)
  })
  t.equal(retry.statusCode, 204, 'a duplicate is acknowledged')
  const stored = await db.collection('webhook_events').find({ event_id: event.event_id }).toArray()
  t.equal(stored.length, 1, 'and stored once')
  t.match(stored[0], { request_id: event.request_id, payload: event })
})

t.test('bad, missing, malformed or stale signatures are 401 before the body is read', async (t) => {
  const { app, db } = await specApp(t)
  const body = JSON.stringify({ event_id: randomUUID() })
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['no header', {}, /^missing Webhook-Signature header$/],
    ['malformed', { 'webhook-signature': 'v1=abc' }, /^malformed Webhook-Signature header$/],
    ['another secret', { 'webhook-signature': signPayload('another-secret-0123456789', body) }, /does not match/],
    ['stale', { 'webhook-signature': signPayload(WEBHOOK_SECRET, body, now - 3600) }, /tolerance/],
    ['another body', { 'webhook-signature': signPayload(WEBHOOK_SECRET, `${body} `) }, /does not match/]
  ]
  for (const [name, headers, message] of cases) {
    const res = await send(app, body, headers)
    t.equal(res.statusCode, 401, name)
    t.same(Object.keys(res.json()).sort(), ERROR_KEYS)
    t.match(res.json(), { statusCode: 401, error: 'Unauthorized', message }, name)
  }
  t.equal(await db.collection('webhook_events').countDocuments(), 0)
})

t.test('a signed body that is not an event: 400; the wrong media type 415; over 1 MiB 413', async (t) => {
  const { app, db } = await specApp(t)
  const signed = (body: string) => ({ 'webhook-signature': signPayload(WEBHOOK_SECRET, body) })
  const notJson = await send(app, '{"event_id":', signed('{"event_id":'))
  t.equal(notJson.statusCode, 400)
  t.match(notJson.json(), { message: 'body is not valid JSON' })
  const noId = await send(app, '{}', signed('{}'))
  t.equal(noId.statusCode, 400)
  t.match(noId.json(), { message: /^invalid body: .*event_id/ })
  const body = JSON.stringify({ event_id: 'e1' })
  const mismatch = await send(app, body, { ...signed(body), 'webhook-id': 'e2' })
  t.equal(mismatch.statusCode, 400)
  t.match(mismatch.json(), { message: 'Webhook-Id does not match the event_id in the body' })
  const text = await app.inject({
    method: 'POST',
    url: '/webhook',
    payload: body,
    headers: { 'content-type': 'application/xml', ...signed(body) }
  })
  t.equal(text.statusCode, 415)
  t.match(text.json(), { statusCode: 415, error: 'Unsupported Media Type' })
  const huge = JSON.stringify({ event_id: 'e3', pad: 'x'.repeat(1024 * 1024) })
  const tooBig = await send(app, huge, signed(huge))
  t.equal(tooBig.statusCode, 413)
  t.match(tooBig.json(), { statusCode: 413, error: 'Payload Too Large' })
  t.equal(await db.collection('webhook_events').countDocuments(), 0)
})
