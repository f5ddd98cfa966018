import { readFileSync } from 'node:fs'
import path from 'node:path'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import t from 'tap'
import { startS3Server } from './s3.ts'
import { csvOf } from './support/csv.ts'
import { CORPUS } from './support/paths.ts'
import { metricValues, spreadOf, sumOf } from './support/scrape.ts'
import { freePort, startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

// The S3 server (versitygw) goes down for 15 s while a request is being stored into it, under a real API and
// worker. Images under way wait for it; none is failed, and none is downloaded twice.
const photo = readFileSync(path.join(CORPUS, 'flowers.jpeg'))
const images = await startImageServer({
  '/slow': (_req, res) => void setTimeout(() => res.writeHead(200).end(photo), 100)
})
t.teardown(() => images.close())
const s3 = await startS3Server()
t.teardown(() => s3.stop())

t.test('S3 down for 15 s mid-request: every image is stored once, every URL fetched once', async (t) => {
  const bucket = await s3.createBucket()
  const port = await freePort()
  const worker = `http://127.0.0.1:${port}`
  const service = await startService({
    workers: 1,
    env: { ...s3.env(bucket), LEASE_MS: '5000', MAX_CLAIMS: '2', WORKER_CONCURRENCY: '2', WORK_UNIT_SIZE: '10' },
    workerEnv: { WORKER_HTTP_PORT: String(port) }
  })
  t.teardown(() => service.stop())
  const n = 60
  const urls = Array.from({ length: n }, (_, i) => `${images.url}/slow?s3=${i}`)
  const { body } = await upload(service.apiUrl, csvOf(urls.map((u, i) => [i + 1, `P${i}`, [u]])))
  await waitFor('some progress', async () => ((await service.request(body.request_id))?.counts.succeeded ?? 0) >= 5)

  await s3.down()
  const downAt = Date.now()
  await waitFor('the worker to see S3 away', async () => {
    const scrape = await (await fetch(`${worker}/metrics`)).text()
    return metricValues(scrape, 'storage_failing')[''] === 1
  })
  const ready = await fetch(`${worker}/readyz`)
  const readyBody = (await ready.json()) as { checks: Record<string, string>; reasons?: Record<string, string> }
  t.comment(`readyz ${ready.status} ${JSON.stringify(readyBody)}`)
  t.equal(ready.status, 503)
  t.equal(readyBody.checks.storage, 'unreachable')
  t.match(readyBody.reasons?.storage, /cannot reach S3 at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\)/)
  await new Promise((r) => setTimeout(r, 15_000 - (Date.now() - downAt)))
  const during = (await service.request(body.request_id))!
  t.comment(`S3 down for ${Math.round((Date.now() - downAt) / 1000)} s: counts ${JSON.stringify(during.counts)}`)
  await s3.up()
  const upAt = Date.now()

  const done = await waitForStatus(service, body.request_id, ['Completed'], 120_000)
  t.comment(`completed ${Math.round((Date.now() - upAt) / 1000)} s after S3 came back`)
  t.equal(done.counts.succeeded, n, 'every image completed')
  t.equal(done.counts.failed, 0, 'none failed for the outage')
  t.ok(
    done.units.every((u) => u.claims <= 1),
    `no claim was counted: ${JSON.stringify(done.units.map((u) => u.claims))}`
  )
  // The images are one picture under 60 URLs: their outputs are one shared object (docs/reuse.md).
  const keys = async (Prefix: string) =>
    ((await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix }))).Contents ?? []).map((o) => o.Key!)
  const stored = new Set([...(await keys(`${body.request_id}/`)), ...(await keys('o/'))])
  t.same(
    done.images.map((i) => i.output_file!).filter((file) => !stored.has(file)),
    [],
    "every image's output is in the bucket"
  )
  t.ok(stored.has(`${body.request_id}/output.csv`), 'and the output CSV')

  await waitFor('the worker ready again', async () => (await fetch(`${worker}/readyz`)).status === 200)
  const scrape = await (await fetch(`${worker}/metrics`)).text()
  for (const name of [
    'storage_outages_total',
    'storage_failures_total',
    'storage_failing',
    'image_redownloads_total',
    'image_outputs_found_total'
  ])
    t.comment(`${name} ${JSON.stringify(metricValues(scrape, name))}`)
  const fetches = urls.map((u) => images.hits.get(u.slice(images.url.length)) ?? 0)
  t.comment(`fetches per URL → URLs: ${JSON.stringify(spreadOf(fetches))}`)
  t.same(spreadOf(fetches), { 1: n }, 'every URL was fetched exactly once')
  t.equal(sumOf(metricValues(scrape, 'image_redownloads_total')), 0, '/metrics: no re-download')
  t.ok(sumOf(metricValues(scrape, 'storage_outages_total')) >= 1, '/metrics: the outage is counted')
})
