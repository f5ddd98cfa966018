import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'
import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { CORPUS } from './support/paths.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'

const images = await startImageServer()
t.teardown(() => images.close())
const img = (name: string, tag = '') => `${images.url}/img/${name}${tag ? `?${tag}` : ''}`
const auth = (key: string) => ({ authorization: `Bearer ${key}` })

t.test('tenancy: a request belongs to the key that created it; metrics have their own token', async (t) => {
  const service = await startService({
    workers: 1,
    env: { API_KEYS: 'key-a,key-b', METRICS_TOKEN: 'scrape-token', WORKER_HTTP_PORT: '0' }
  })
  t.teardown(() => service.stop())
  const mine = await upload(service.apiUrl, csvOf([[1, 'A', [img('rocket.jpg', 'tenant')]]]), {}, auth('key-a'))
  t.equal(mine.status, 202)
  const id = mine.body.request_id
  t.equal((await fetch(`${service.apiUrl}/status/${id}`, { headers: auth('key-a') })).status, 200, 'the owner reads it')
  const other = await fetch(`${service.apiUrl}/status/${id}`, { headers: auth('key-b') })
  t.equal(other.status, 404, 'another key gets the answer for an unknown id')
  t.match(await other.json(), { message: `no request with id ${id}` })
  t.equal((await fetch(`${service.apiUrl}/status/${id}`)).status, 401)
  const doc = await waitForStatus(service, id, ['Completed'])
  t.match(doc.owner, /^key:[0-9a-f]{16}$/, 'stored as a hash prefix, never the key')
  t.notOk(JSON.stringify(doc).includes('key-a'))

  t.equal((await fetch(`${service.apiUrl}/metrics`)).status, 401, '/metrics needs METRICS_TOKEN')
  t.equal(
    (await fetch(`${service.apiUrl}/metrics`, { headers: auth('key-a') })).status,
    401,
    'an API key is not the metrics token'
  )
  t.equal((await fetch(`${service.apiUrl}/metrics`, { headers: auth('scrape-token') })).status, 200)
})

t.test(
  'quotas: uploads per hour and images per day per key, answered 429 with Retry-After, counted in metrics',
  async (t) => {
    const service = await startService({
      workers: 0,
      env: { API_KEYS: 'key-a,key-b', QUOTA_REQUESTS_PER_HOUR: '2', QUOTA_IMAGES_PER_DAY: '5' }
    })
    t.teardown(() => service.stop())
    const one = (tag: string, n = 1, key = 'key-a') =>
      upload(
        service.apiUrl,
        csvOf(Array.from({ length: n }, (_, i) => [i + 1, `P${i}`, [img('rocket.jpg', `${tag}${i}`)]])),
        {},
        auth(key)
      )
    const tooMany = await one('big', 6)
    t.equal(tooMany.status, 413, 'six images are more than a whole daily budget of five: waiting would not help')
    t.match(tooMany.body.message, /more than the whole budget of 5 images per day \(QUOTA_IMAGES_PER_DAY\)/)
    t.equal((await one('a', 3)).status, 202)
    const overBudget = await one('over', 3)
    t.equal(overBudget.status, 429, '3 + 3 images pass the daily budget of five')
    t.match(overBudget.body.message, /would pass the budget of 5 images per day/)
    t.equal((await one('b')).status, 202, 'the refused uploads did not use one of the two uploads per hour')
    const third = await fetch(`${service.apiUrl}/upload`, {
      method: 'POST',
      headers: auth('key-a'),
      body: (() => {
        const f = new FormData()
        f.append('file', new Blob([csvOf([[1, 'A', [img('rocket.jpg', 'c')]]])], { type: 'text/csv' }), 'p.csv')
        return f
      })()
    })
    t.equal(third.status, 429)
    const retryAfter = Number(third.headers.get('retry-after'))
    t.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After: ${retryAfter} s, until the hour's window ends`)
    t.match(await third.json(), { message: /at most 2 uploads per hour \(QUOTA_REQUESTS_PER_HOUR\)/ })
    t.equal((await one('d', 1, 'key-b')).status, 202, 'another key has its own quota')
    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text()
    t.match(metrics, /imgproc_quota_rejections_total\{quota="requests_per_hour",app="api"\} 1/)
    t.match(metrics, /imgproc_quota_rejections_total\{quota="images_per_day",app="api"\} 2/)
  }
)

t.test('signed, expiring output URLs (OUTPUT_URL_TTL_S)', async (t) => {
  // The API logs every request at info: its access log must show these links without their signatures.
  const service = await startService({ workers: 1, env: { OUTPUT_URL_TTL_S: '3' }, apiEnv: { LOG_LEVEL: 'info' } })
  t.teardown(() => service.stop())
  const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [img('rocket.jpg', 'signed')]]]))
  await waitForStatus(service, body.request_id, ['Completed'])
  const status = (await (await fetch(`${service.apiUrl}/status/${body.request_id}`)).json()) as StatusView
  const imageUrl = new URL(status.products.items[0]!.images[0]!.output_url!)
  const csvUrl = new URL(status.output_csv_url!)
  t.ok(imageUrl.searchParams.get('signature') && csvUrl.searchParams.get('expires'), 'both links are signed')
  t.equal((await fetch(imageUrl)).status, 200)
  t.equal((await fetch(csvUrl)).status, 200)
  const bare = `${imageUrl.origin}${imageUrl.pathname}`
  t.equal((await fetch(bare)).status, 403, 'the bare capability URL is not enough')
  const forged = new URL(imageUrl)
  forged.searchParams.set('expires', String(Number(imageUrl.searchParams.get('expires')) + 3600))
  t.equal((await fetch(forged)).status, 403, 'the expiry cannot be extended')
  const csv = await (await fetch(csvUrl)).text()
  t.match(csv, /signature=/, 'the image links in the output CSV are signed too')
  const csvImageUrl = new URL(/http:\/\/[^,"\s]+\/images\/[^,"\s]+/.exec(csv)![0])
  const csvLinkLife = Number(csvImageUrl.searchParams.get('expires')) - Date.now() / 1000
  t.ok(csvLinkLife > 30 * 86_400 - 120, `the CSV's links live OUTPUT_CSV_URL_TTL_S (30 days): ${csvLinkLife} s`)
  await new Promise((r) => setTimeout(r, 4200))
  const expired = await fetch(imageUrl)
  t.equal(expired.status, 403)
  t.match(await expired.json(), { message: /expired/ })
  t.equal((await fetch(csvUrl)).status, 403, 'the link to the CSV itself expired')
  t.equal((await fetch(csvImageUrl)).status, 200, "but the CSV's image links still work")
  const fresh = (await (await fetch(`${service.apiUrl}/status/${body.request_id}`)).json()) as StatusView
  t.equal((await fetch(fresh.products.items[0]!.images[0]!.output_url!)).status, 200, 'status hands out fresh links')

  const signatures = [imageUrl, csvUrl, csvImageUrl].map((u) => u.searchParams.get('signature')!)
  t.match(service.api.output(), /"url":"\/images\/[^"]+signature=\[redacted\]/, 'the access log shows the links')
  for (const [name, proc] of [['api', service.api], ...service.workers.map((w) => ['worker', w] as const)] as const)
    t.notOk(
      signatures.some((signature) => proc.output().includes(signature)),
      `the ${name}'s log holds no signature value`
    )
})

t.test('per-host download limits: at most N at once to one host, while another host is served alongside', async (t) => {
  const photo = readFileSync(path.join(CORPUS, 'rocket.jpg'))
  const hosts = await Promise.all(
    ['127.0.0.1', '127.0.0.2'].map(
      (address) =>
        new Promise<{ url: string; peak: () => number; close: () => void }>((resolve) => {
          let active = 0
          let peak = 0
          const server = createServer((_req, res) => {
            peak = Math.max(peak, ++active)
            setTimeout(() => {
              active--
              res.writeHead(200).end(photo)
            }, 150)
          })
          server.listen(0, address, () =>
            resolve({
              url: `http://${address}:${(server.address() as { port: number }).port}`,
              peak: () => peak,
              close: () => {
                server.closeAllConnections()
                server.close()
              }
            })
          )
        })
    )
  )
  t.teardown(() => Promise.all(hosts.map((h) => h.close())))
  const service = await startService({
    workers: 1,
    env: {
      WORKER_CONCURRENCY: '4',
      WORKER_UNITS: '2',
      WORK_UNIT_SIZE: '12',
      DOWNLOAD_PER_HOST_CONCURRENCY: '2',
      DOWNLOAD_PER_HOST_PER_SECOND: '8'
    }
  })
  t.teardown(() => service.stop())
  const rows = Array.from({ length: 24 }, (_, i): [number, string, string[]] => [
    i + 1,
    `P${i}`,
    [`${hosts[i % 2]!.url}/p.jpg?${i}`]
  ])
  const started = Date.now()
  const { body } = await upload(service.apiUrl, csvOf(rows))
  const doc = await waitForStatus(service, body.request_id, ['Completed'], 60_000)
  const seconds = (Date.now() - started) / 1000
  t.equal(doc.counts.succeeded, 24)
  t.equal(hosts[0]!.peak(), 2, 'host 1: two downloads at most at once')
  t.equal(hosts[1]!.peak(), 2, 'host 2: two at once, at the same time as host 1')
  t.ok(seconds >= 12 / 8 - 0.2, `12 images per host at 8 starts per second take ≥ 1.3 s (took ${seconds.toFixed(1)} s)`)
})

t.test('repeated URLs are capped per row and per file; status pages are bounded in bytes', async (t) => {
  const service = await startService({
    workers: 1,
    env: { MAX_URLS_PER_ROW: '100', MAX_URL_MENTIONS: '1000', STATUS_MAX_BYTES: '204800' }
  })
  t.teardown(() => service.stop())
  const repeated = Array.from({ length: 101 }, () => img('rocket.jpg', 'rep'))
  const row = await upload(service.apiUrl, csvOf([[1, 'A', repeated]]))
  t.equal(row.status, 400)
  t.match(row.body.errors![0], { row: 2, message: '101 image URLs in one row; the limit is 100 (MAX_URLS_PER_ROW)' })
  const file = await upload(
    service.apiUrl,
    csvOf(Array.from({ length: 11 }, (_, i) => [i + 1, `P${i}`, repeated.slice(0, 100)]))
  )
  t.equal(file.status, 400)
  t.match(file.body.errors![0].message, /more than 1000 image URLs in all/)

  // 10 rows of 100 mentions of a few long URLs: a page of all of them would be ~800 KB; it is cut at 200 KB.
  const long = (i: number) => img('rocket.jpg', `pad=${'x'.repeat(400)}&i=${i}`)
  const ok = await upload(
    service.apiUrl,
    csvOf(Array.from({ length: 10 }, (_, r) => [r + 1, `P${r}`, Array.from({ length: 100 }, (_, k) => long(k % 3))]))
  )
  t.equal(ok.status, 202)
  await waitForStatus(service, ok.body.request_id, ['Completed'])
  const res = await fetch(`${service.apiUrl}/status/${ok.body.request_id}?limit=1000`)
  const text = await res.text()
  const page = JSON.parse(text)
  t.ok(text.length <= 204800, `page is ${text.length} bytes`)
  t.ok(
    page.products.items.length >= 1 && page.products.items.length < 10,
    `${page.products.items.length} of 10 products`
  )
  t.equal(page.products.next_offset, page.products.items.length, 'next_offset says where to continue')
  const rest = (await (
    await fetch(`${service.apiUrl}/status/${ok.body.request_id}?offset=${page.products.next_offset}&limit=1000`)
  ).json()) as StatusView
  t.equal(rest.products.items[0].serial, page.products.items.length + 1)
})
