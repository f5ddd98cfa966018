/**
 * Request management against the real thing: the API and two workers as processes, an image server on loopback
 * that can hold its answers (so a worker is mid-image on one unit while other units are still pending) or fail
 * images until told otherwise, and a webhook receiver.
 */

import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import path from 'node:path'
import { verifySignature } from '@imgproc/core'
import t from 'tap'
import { csvOf, readCsv } from './support/csv.ts'
import { CORPUS } from './support/paths.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, WEBHOOK_SECRET, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const ROCKET = readFileSync(path.join(CORPUS, 'rocket.jpg'))
const serve = (res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': ROCKET.length }).end(ROCKET)

/**
 * /gated?i=<image>: the images of the first unit asked for (units of 2: image i is in unit ⌊i/2⌋) go out at once,
 * every other waits until `release()`. Whichever unit a worker claims first, the end state is the same.
 */
let openUnit: number | null = null
let waiting: ServerResponse[] = []
let holding = true
const gated = (req: IncomingMessage, res: ServerResponse) => {
  const unit = Math.floor(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('i')) / 2)
  openUnit ??= unit
  if (!holding || unit === openUnit) return serve(res)
  waiting.push(res)
}
const release = () => {
  holding = false
  for (const res of waiting) serve(res)
  waiting = []
}
/** /flaky/*: 404 while `failing`; then held until `serveFlaky()`. */
let failing = true
let flakyHeld: ServerResponse[] = []
let flakyOpen = false
const flaky = (_req: IncomingMessage, res: ServerResponse) => {
  if (failing) return void res.writeHead(404).end('not found')
  if (flakyOpen) return serve(res)
  flakyHeld.push(res)
}
const serveFlaky = () => {
  flakyOpen = true
  for (const res of flakyHeld) serve(res)
  flakyHeld = []
}

const images = await startImageServer({ '/gated': gated, '/flaky': flaky, '/ok': (_req, res) => serve(res) })
const receiver = await startWebhookReceiver()
const service = await startService({
  workers: 2,
  // Units of 2 images, one unit per worker at a time, 2 images in flight each: a held unit holds its worker.
  env: { WORK_UNIT_SIZE: '2', LEASE_MS: '3000' },
  workerEnv: { WORKER_UNITS: '1', WORKER_CONCURRENCY: '1', DOWNLOAD_RETRIES: '0' }
})
t.teardown(async () => {
  release()
  serveFlaky()
  await service.stop()
  await images.close()
  await receiver.close()
})

const hitsOf = (prefix: string) =>
  [...images.hits.entries()].filter(([url]) => url.startsWith(prefix)).reduce((sum, [, n]) => sum + n, 0)
const post = (id: string, action: string) => fetch(`${service.apiUrl}/requests/${id}/${action}`, { method: 'POST' })
const status = async (id: string) => (await fetch(`${service.apiUrl}/status/${id}?limit=0`)).json()
const eventsOf = (id: string) =>
  receiver.received.map((r) => ({ ...r, event: JSON.parse(r.body) })).filter((r) => r.event.request_id === id)
const csvAt = async (url: string) => readCsv(await (await fetch(url)).text())

t.test('cancel: nothing more is claimed, what was done is in the CSV, a signed request.cancelled', async (t) => {
  const urls = Array.from({ length: 12 }, (_, i) => `${images.url}/gated?i=${i}`)
  const accepted = await upload(service.apiUrl, csvOf(urls.map((url, i) => [i + 1, `SKU${i + 1}`, [url]])), {
    webhook_url: `${receiver.url}/hook`
  })
  t.equal(accepted.status, 202)
  const id = accepted.body.request_id
  // Settled: one unit done (its two images recorded), both workers mid-image on a unit each (both its images
  // held), the other units pending. Nothing moves from here until the test does.
  await waitFor(
    'one unit done and two units held',
    async () => {
      const doc = await service.request(id)
      const states = doc?.units.map((u) => u.state) ?? []
      return (
        doc?.counts.succeeded === 2 &&
        states.filter((s) => s === 'done').length === 1 &&
        states.filter((s) => s === 'running').length === 2 &&
        waiting.length === 4
      )
    },
    90_000
  ).catch(async (err) => {
    const doc = await service.request(id)
    throw new Error(
      `${(err as Error).message}: units ${doc?.units.map((u) => u.state)}, ${doc?.counts.succeeded} done, ${waiting.length} held`
    )
  })
  const before = await service.request(id)
  const pendingUnits = before!.units.filter((u) => u.state === 'pending').map((u) => u.data.n)
  t.ok(pendingUnits.length >= 3, `${pendingUnits.length} units still pending`)
  const downloadsAtCancel = hitsOf('/gated')

  const res = await post(id, 'cancel')
  t.equal(res.status, 202)
  t.match(await res.json(), { request_id: id, status: 'Cancelled' })
  release() // the in-flight images end; their holders learn at their next write or heartbeat that the unit is gone

  const doc = await waitFor('the cancellation wound up', async () => {
    const d = await service.request(id)
    return d?.output_csv && d.units.every((u) => u.state !== 'running') ? d : null
  })
  await waitFor('both holders stopped', () =>
    service.workers.every((w) => w.output().includes('lease lost to another worker; stopped'))
  )
  t.equal(doc.status, 'Cancelled')
  t.equal(hitsOf('/gated'), downloadsAtCancel, 'no download started after the cancel')
  for (const n of pendingUnits) {
    const unit = doc.units.find((u) => u.data.n === n)!
    t.match(unit, { state: 'cancelled', claims: 0 }, `unit ${n} was never claimed`)
  }
  t.same(doc.summary, { ...doc.summary, total: 12, succeeded: 2, failed: 0, pending: 10 })

  const view = await status(id)
  t.match(view, { status: 'Cancelled', counts: { total: 12, succeeded: 2, pending: 10 } })
  const rows = await csvAt(view.output_csv_url)
  t.equal(rows.length, 13)
  const done = rows.slice(1).filter((r) => r[3] !== '')
  t.equal(done.length, 2, 'the done images have their output URLs')
  t.ok(
    rows.slice(1).every((r) => r[2] === urls[Number(r[0]) - 1]),
    'every input in its row'
  )

  await waitFor('request.cancelled delivered', () => eventsOf(id).length === 1)
  const [delivery] = eventsOf(id)
  t.same(verifySignature(WEBHOOK_SECRET, delivery!.body, delivery!.headers['webhook-signature'] as string), {
    ok: true
  })
  t.match(delivery!.event, {
    type: 'request.cancelled',
    status: 'Cancelled',
    counts: { succeeded: 2, pending: 10 },
    output_csv_url: view.output_csv_url.split('?')[0]
  })
  t.equal(delivery!.headers['webhook-id'], delivery!.event.event_id)

  const again = await post(id, 'cancel')
  t.equal(again.status, 409)
  t.match(await again.json(), { message: /is Cancelled/ })

  t.test('a retry of the cancelled request does what was not done, and nothing done again', async (t) => {
    const res = await post(id, 'retry')
    t.equal(res.status, 202)
    const completed = await waitForStatus(service, id, ['Completed'], 120_000)
    t.same(completed.counts, { total: 12, succeeded: 12, failed: 0, pending: 0 })
    const doneBefore = before!.images.flatMap((image, i) => (image.status === 'succeeded' ? [i] : []))
    for (const i of doneBefore) t.equal(images.hits.get(`/gated?i=${i}`), 1, `image ${i} not downloaded again`)
    for (const i of Array.from({ length: 12 }, (_, i) => i))
      t.ok((images.hits.get(`/gated?i=${i}`) ?? 0) <= 2, `image ${i} downloaded at most once more`)
    await waitFor('request.completed delivered', () => eventsOf(id).length === 2)
    t.match(eventsOf(id)[1]!.event, { type: 'request.completed', status: 'Completed' })
  })
})

t.test('retry: only the failed images again, a new CSV and a new request.completed; 409s', async (t) => {
  const urls = [
    ...Array.from({ length: 4 }, (_, i) => `${images.url}/ok?r=${i}`),
    `${images.url}/flaky?f=0`,
    `${images.url}/flaky?f=1`
  ]
  const accepted = await upload(service.apiUrl, csvOf(urls.map((url, i) => [i + 1, `P${i + 1}`, [url]])), {
    webhook_url: `${receiver.url}/hook`
  })
  const id = accepted.body.request_id
  const first = await waitForStatus(service, id, ['Completed'], 120_000)
  t.same(first.counts, { total: 6, succeeded: 4, failed: 2, pending: 0 })
  await waitFor('the first request.completed', () => eventsOf(id).length === 1)
  const firstEvent = eventsOf(id)[0]!.event
  const firstCsv = (await status(id)).output_csv_url

  const none = await fetch(`${service.apiUrl}/requests/00000000-0000-4000-8000-000000000000/retry`, { method: 'POST' })
  t.equal(none.status, 404)

  failing = false // the image host is fixed; its answers are held until the 409 below is seen
  const res = await post(id, 'retry')
  t.equal(res.status, 202)
  t.match(await res.json(), { status: 'Processing', counts: { succeeded: 4, pending: 2 } })
  t.match((await status(id)).webhook, { event_id: firstEvent.event_id, state: 'delivered' }, 'the latest event so far')
  const running = await post(id, 'retry')
  t.equal(running.status, 409)
  t.match(await running.json(), { message: /still Processing/ })
  serveFlaky()

  const done = await waitForStatus(service, id, ['Completed'], 120_000)
  t.same(done.counts, { total: 6, succeeded: 6, failed: 0, pending: 0 })
  t.equal(hitsOf('/ok'), 4, 'the images that succeeded were not downloaded again')
  t.equal(images.hits.get('/flaky?f=0'), 2)
  t.equal(images.hits.get('/flaky?f=1'), 2)

  await waitFor('a second request.completed', () => eventsOf(id).length === 2)
  const second = eventsOf(id)[1]!
  t.same(verifySignature(WEBHOOK_SECRET, second.body, second.headers['webhook-signature'] as string), { ok: true })
  t.match(second.event, { type: 'request.completed', status: 'Completed', counts: { succeeded: 6, failed: 0 } })
  t.not(second.event.event_id, firstEvent.event_id, 'a new event id')

  const view = await status(id)
  t.not(view.output_csv_url, firstCsv, 'a new output CSV')
  await waitFor('the second event delivered', async () => (await status(id)).webhook?.state === 'delivered')
  t.equal((await status(id)).webhook.event_id, second.event.event_id)
  const rows = await csvAt(view.output_csv_url)
  t.ok(
    rows.slice(1).every((r) => r[3]!.startsWith('http')),
    'every image has its output URL now'
  )
  const old = await csvAt(firstCsv)
  t.same(
    old.slice(1).map((r) => r[3] === ''),
    [false, false, false, false, true, true],
    'the first CSV is kept as it was'
  )
  t.equal((await post(id, 'retry')).status, 409, 'nothing failed any more')
})
