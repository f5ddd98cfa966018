import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { scanBomb } from '../packages/media/test/scan-bomb.ts'
import { csvOf, readCsv } from './support/csv.ts'
import { CORPUS } from './support/paths.ts'
import type { Proc } from './support/processes.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

/** Peak resident memory of a process, from the kernel's high-water mark. */
function peakRssMb(proc: Proc): number {
  const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8')
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024
}

// 8192² with 1,000 scans (0.5 MB): about 15 s of one core to decode without the scan limit.
const bomb = await scanBomb(8192, 1000)
const images = await startImageServer({
  '/scan-bomb.jpg': (_q, s) => s.writeHead(200, { 'content-type': 'image/jpeg' }).end(bomb),
  '/html-as-jpeg': (_q, s) =>
    s.writeHead(200, { 'content-type': 'image/jpeg' }).end('<!doctype html><html><body>Sorry, not found</body></html>'),
  '/json-as-jpeg': (_q, s) => s.writeHead(200, { 'content-type': 'image/jpeg' }).end('{"error":"no such image"}')
})
t.teardown(() => images.close())

t.test('decompression and scan bombs are refused before decoding; worker memory stays bounded', async (t) => {
  const service = await startService({ workers: 1 })
  t.teardown(() => service.stop())
  const before = peakRssMb(service.workers[0]!)
  const { body } = await upload(
    service.apiUrl,
    csvOf([[1, 'Bomb', [`${images.url}/img/giant-image.jpg`, `${images.url}/scan-bomb.jpg`]]])
  )
  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  t.match(doc.images[0], { status: 'failed', error: /20000x14000 = 280.0 megapixels; the limit is 100.0 megapixels/ })
  t.match(doc.images[1], {
    status: 'failed',
    error_kind: 'scan_limit',
    error: /progressive JPEG has more than 100 scans \(MAX_JPEG_SCANS\)/
  })
  const peak = peakRssMb(service.workers[0]!)
  t.comment(`worker peak RSS: ${before.toFixed(0)} MB at start, ${peak.toFixed(0)} MB after the bomb`)
  t.ok(peak < 250, `peak RSS ${peak.toFixed(0)} MB stays well under the 280 MB one decode of the bomb would need`)
})

t.test('every corpus file in one CSV: Completed, each image succeeded or failed with a reason', async (t) => {
  const service = await startService({ workers: 1 })
  t.teardown(() => service.stop())
  const files = readdirSync(CORPUS)
    .filter((f) => !f.endsWith('.md'))
    .sort()
  const rows = files.map((f, i): [number, string, string[]] => [
    i + 1,
    f,
    [`${images.url}/img/${encodeURIComponent(f)}`]
  ])
  rows.push(
    [rows.length + 1, 'HTML', [`${images.url}/html-as-jpeg`]],
    [rows.length + 2, 'JSON', [`${images.url}/json-as-jpeg`]]
  )
  rows.push([rows.length + 1, 'Again', [`${images.url}/img/rocket.jpg`, `${images.url}/img/rocket.jpg`]])
  const { status, body } = await upload(service.apiUrl, csvOf(rows))
  t.equal(status, 202)
  const doc = await waitForStatus(service, body.request_id, ['Completed'], 120_000)
  const byUrl = new Map(doc.images.map((i) => [i.url.split('/').pop()!, i]))
  for (const image of doc.images)
    t.ok(
      image.status === 'succeeded' || (image.status === 'failed' && image.error),
      `${image.url.split('/').pop()}: ${image.status} ${image.error ?? ''}`
    )
  t.match(byUrl.get('corrupt-header.jpg'), { status: 'failed', error: /not a supported image/ })
  t.match(byUrl.get('truncated.jpg'), { status: 'failed', error: /could not decode image/ })
  t.match(byUrl.get('giant-image.jpg'), { status: 'failed', error: /megapixels/ })
  t.match(
    byUrl.get('html-as-jpeg'),
    { status: 'failed', error: /not a supported image/ },
    'bytes are sniffed, the header is not trusted'
  )
  t.match(byUrl.get('json-as-jpeg'), { status: 'failed', error: /not a supported image/ })
  t.match(byUrl.get('animated-loop-3.gif'), { status: 'succeeded', format_out: 'gif' })
  t.equal(doc.counts.failed, 5)
  t.equal(doc.counts.succeeded, files.length - 3)
  t.equal(images.hits.get('/img/rocket.jpg'), 1, 'a URL repeated in one request is downloaded once')
})

t.test('private networks refused by default: at upload for IP literals, at connect time for names', async (t) => {
  const receiver = await startWebhookReceiver()
  const service = await startService({
    workers: 1,
    env: { ALLOW_PRIVATE_NETWORKS: 'false', WEBHOOK_MAX_ATTEMPTS: '1' }
  })
  t.teardown(async () => {
    await service.stop()
    await receiver.close()
  })
  const literal = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]))
  t.equal(literal.status, 400)
  t.match(literal.body.errors![0].message, /refused: 127.0.0.1 is a loopback address/)
  const hook = await upload(service.apiUrl, csvOf([[1, 'A', ['https://cdn.example/a.jpg']]]), {
    webhook_url: receiver.url
  })
  t.match(hook, { status: 400, body: { message: /webhook_url: refused: 127.0.0.1 is a loopback address/ } })

  const port = new URL(images.url).port
  const byName = await upload(service.apiUrl, csvOf([[1, 'A', [`http://localhost:${port}/img/rocket.jpg?ssrf=1`]]]), {
    webhook_url: `http://localhost:${new URL(receiver.url).port}/hook`
  })
  t.equal(byName.status, 202, 'a DNS name is only judged when resolved')
  const doc = await waitForStatus(service, byName.body.request_id, ['Completed'])
  t.match(doc.images[0], { status: 'failed', error: /refused: localhost resolves to a non-public address/ })
  t.equal(images.hits.get('/img/rocket.jpg?ssrf=1') ?? 0, 0, 'no connection reached the image server')
  const delivered = await waitFor('webhook attempt recorded', async () =>
    (await service.request(byName.body.request_id))?.webhook?.state === 'failed'
      ? (await service.request(byName.body.request_id))!.webhook
      : null
  )
  t.match(delivered.attempts[0], { error: /refused: / })
  t.equal(receiver.received.length, 0, 'the webhook was not sent to loopback either')
})

t.test('output CSV cells that would run as formulas are neutralised in the produced file', async (t) => {
  const service = await startService({ workers: 1 })
  t.teardown(() => service.stop())
  const csv = `S. No.,Product Name,Input Image Urls\n1,"=HYPERLINK(""http://evil.example"")",${images.url}/img/rocket.jpg\n2,@SUM(A1),${images.url}/img/flowers.jpeg\n3,-2+3,${images.url}/img/chelsea.png\n`
  const { body } = await upload(service.apiUrl, csv)
  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  const text = readFileSync(path.join(service.env.STORAGE_DIR!, body.request_id, 'output.csv'), 'utf8')
  const rows = await readCsv(text)
  t.same(
    rows.slice(1).map((r) => r[1]),
    [`'=HYPERLINK("http://evil.example")`, `'@SUM(A1)`, `'-2+3`]
  )
  t.equal(doc.status, 'Completed')
})

t.test(
  'webhook: retried with backoff until 2xx, every attempt recorded, one event id; a slow receiver blocks no processing',
  async (t) => {
    const failing = await startWebhookReceiver((n) => (n < 3 ? 503 : 200))
    const stalled: Array<() => void> = []
    const slow = await startImageServer({
      '/hook': (_q, s) =>
        void stalled.push(() => {
          if (!s.headersSent) s.writeHead(200).end()
        })
    })
    const service = await startService({ workers: 1, env: { WEBHOOK_BACKOFF_MS: '300', WEBHOOK_TIMEOUT_MS: '20000' } })
    t.teardown(async () => {
      for (const f of stalled) f()
      await service.stop()
      await failing.close()
      await slow.close()
    })

    const first = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg?w=1`]]]), {
      webhook_url: `${slow.url}/hook`
    })
    await waitFor('the slow receiver to be called', () => stalled.length === 1)
    const second = await upload(service.apiUrl, csvOf([[1, 'B', [`${images.url}/img/rocket.jpg?w=2`]]]), {
      webhook_url: `${failing.url}/hook`
    })
    const secondDone = await waitForStatus(service, second.body.request_id, ['Completed'], 15_000)
    t.ok(secondDone, 'processed while another request’s webhook hangs')
    stalled[0]!()

    const delivered = await waitFor(
      'delivered after retries',
      async () => {
        const d = await service.request(second.body.request_id)
        return d?.webhook?.state === 'delivered' ? d.webhook : null
      },
      30_000
    )
    t.same(
      delivered.attempts.map((a) => a.status_code),
      [503, 503, 200]
    )
    const gaps = failing.received.slice(1).map((r, i) => r.at - failing.received[i]!.at)
    // Base 300 ms with jitter in [0.5, 1): retry 1 waits 150–300 ms, retry 2 waits 300–600 ms.
    t.ok(gaps[0]! >= 140, `first retry after ${gaps[0]} ms (≥ 150 expected)`)
    t.ok(gaps[1]! >= 290, `second retry after ${gaps[1]} ms (≥ 300 expected: the delay doubled)`)
    t.equal(new Set(failing.received.map((r) => r.headers['webhook-id'])).size, 1, 'same event id on every attempt')
    await waitForStatus(service, first.body.request_id, ['Completed'])
  }
)
