import { type StatusView, signPayload, verifySignature } from '@imgproc/core'
import sharp from 'sharp'
import t from 'tap'
import { csvOf, readCsv } from './support/csv.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, WEBHOOK_SECRET } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const images = await startImageServer()
const receiver = await startWebhookReceiver()
const service = await startService({ workers: 1 })
t.teardown(async () => {
  await service.stop()
  await images.close()
  await receiver.close()
})

const img = (name: string) => `${images.url}/img/${name}`
const rows: Array<[number, string, string[]]> = [
  [1, 'SKU1', [img('flowers.jpeg'), img('coffee.png')]],
  [2, 'SKU2', [img('Landscape_6.jpg'), img('missing.jpg')]],
  [3, 'SKU3', [img('4.webp'), img('alpha-premultiply-2048x1536-paper.png')]],
  [4, 'SKU4', [img('rocket.jpg'), img('flowers.jpeg')]]
]

t.test('a CSV goes in; images, output CSV, MongoDB record and one signed webhook come out', async (t) => {
  const accepted = await upload(service.apiUrl, csvOf(rows), { webhook_url: `${receiver.url}/hook` })
  t.equal(accepted.status, 202)
  t.match(accepted.body, { status: 'Pending', total_images: 7, total_products: 4 })
  t.match(accepted.body.request_id, /^[0-9a-f-]{36}$/)
  t.equal(accepted.body.status_url, `${service.apiUrl}/status/${accepted.body.request_id}`)
  const id: string = accepted.body.request_id

  const seen: string[] = []
  const status = await waitFor(
    'Completed via the API',
    async () => {
      const body = (await (await fetch(`${service.apiUrl}/status/${id}`)).json()) as StatusView
      if (seen.at(-1) !== body.status) seen.push(body.status)
      return body.status === 'Completed' ? body : null
    },
    60_000,
    50
  )
  t.ok(['Pending', 'Processing'].includes(seen[0]!), `first status seen was ${seen[0]}`)
  t.equal(seen.at(-1), 'Completed')
  t.same(status.counts, { total: 7, succeeded: 6, failed: 1, pending: 0, reused: 0 }, 'a repeated URL is one image')
  t.equal(status.progress_pct, 100)
  t.ok(status.completed_at && status.started_at)
  t.equal(status.products.items.length, 4)

  const missing = status.products.items[1].images[1]
  t.match(missing, { input_url: img('missing.jpg'), status: 'failed', output_url: null, error: /HTTP 404/ })
  const rotated = status.products.items[1].images[0]
  t.match(
    rotated,
    { status: 'succeeded', width_in: 450, height_in: 600, width_out: 600, height_out: 450 },
    'EXIF orientation applied'
  )
  for (const product of status.products.items) {
    for (const image of product.images.filter((i) => i.status === 'succeeded')) {
      t.ok(image.bytes_out! > 0 && image.bytes_out! <= image.bytes_in!, `${image.input_url} not larger than its input`)
    }
  }

  // Output CSV: same rows in the same order, outputs aligned with inputs, a failed slot left empty.
  t.equal(status.output_csv_url, `${service.apiUrl}/requests/${id}/output.csv`)
  const csvResponse = await fetch(status.output_csv_url!)
  t.equal(csvResponse.status, 200)
  t.match(csvResponse.headers.get('content-type'), /^text\/csv/)
  const records = await readCsv(await csvResponse.text())
  t.same(records[0], ['S. No.', 'Product Name', 'Input Image Urls', 'Output Image Urls'])
  t.same(
    records.slice(1).map((r) => [r[0], r[1], r[2]]),
    rows.map(([n, name, urls]) => [String(n), name, urls.join(',')])
  )
  const outputs = records.slice(1).map((r) => r[3]!.split(','))
  for (const [i, list] of outputs.entries()) {
    t.equal(list.length, rows[i]![2].length, `row ${i + 1} has one output slot per input`)
  }
  t.equal(outputs[1]![1], '', 'the 404 image leaves its slot empty')
  t.equal(outputs[3]![1], outputs[0]![0], 'the repeated URL maps to the same output')

  for (const url of outputs.flat().filter(Boolean)) {
    const res = await fetch(url)
    t.equal(res.status, 200, url)
    t.match(res.headers.get('content-type'), /^image\//)
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata()
    t.ok(meta.width && meta.height, `${url} decodes (${meta.format} ${meta.width}x${meta.height})`)
  }

  // MongoDB holds the record.
  const doc = (await service.request(id))!
  t.equal(doc.status, 'Completed')
  t.equal(doc.images.length, 7)
  t.equal(doc.output_csv, status.output_csv_url)
  t.equal(doc.images.filter((i) => i.status === 'succeeded').length, 6)
  t.match(
    doc.images.find((i) => i.status === 'failed'),
    { url: img('missing.jpg'), error: /404/ }
  )

  // Exactly one webhook, correctly signed.
  await waitFor('webhook', () => receiver.received.length >= 1)
  await new Promise((r) => setTimeout(r, 1000))
  t.equal(receiver.received.length, 1, 'delivered once')
  const delivery = receiver.received[0]!
  t.same(verifySignature(WEBHOOK_SECRET, delivery.body, delivery.headers['webhook-signature'] as string), { ok: true })
  const event = JSON.parse(delivery.body)
  t.match(event, {
    type: 'request.completed',
    request_id: id,
    status: 'Completed',
    counts: { total: 7, succeeded: 6, failed: 1 },
    output_csv_url: status.output_csv_url
  })
  t.equal(delivery.headers['webhook-id'], event.event_id)
  await waitFor('delivery recorded', async () => (await service.request(id))?.webhook?.state === 'delivered')
  const recorded = (await service.request(id))!.webhook!
  t.equal(recorded.attempts.length, 1)
  t.equal(recorded.attempts[0]!.status_code, 200)

  // Our own receiver stores a redelivered event once.
  const post = (body: string, signature?: string) =>
    fetch(`${service.apiUrl}/webhook`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.event_id,
        ...(signature ? { 'webhook-signature': signature } : {})
      }
    })
  t.equal((await post(delivery.body, signPayload(WEBHOOK_SECRET, delivery.body))).status, 204)
  t.equal(
    (await post(delivery.body, signPayload(WEBHOOK_SECRET, delivery.body))).status,
    204,
    'redelivery acknowledged'
  )
  t.equal(await service.db.collection('webhook_events').countDocuments({ event_id: event.event_id }), 1, 'stored once')
  t.equal((await post(delivery.body)).status, 401, 'missing signature')
  t.equal(
    (await post(delivery.body, signPayload('another-secret-0123456789', delivery.body))).status,
    401,
    'wrong secret'
  )
  t.equal(
    (await post(delivery.body, signPayload(WEBHOOK_SECRET, delivery.body, Math.floor(Date.now() / 1000) - 301))).status,
    401,
    'stale timestamp'
  )
  t.equal(
    (await post(delivery.body.replace('Completed', 'Failed'), delivery.headers['webhook-signature'] as string)).status,
    401,
    'tampered body'
  )
})
