import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { CORPUS } from './support/paths.ts'
import { metricValues, spreadOf, sumOf } from './support/scrape.ts'
import { freePort, startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { smallDisk } from './support/small-disk.ts'
import { waitFor } from './support/wait.ts'

// A full disk under a real API and worker: the worker's storage directory is a small tmpfs (a directory made
// read-only when not root) that fills up mid-request. No image may fail for it, /readyz and /metrics must say
// so, and once there is room again every image completes.
const photo = readFileSync(path.join(CORPUS, 'flowers.jpeg'))
const images = await startImageServer({
  '/slow': (_req, res) => void setTimeout(() => res.writeHead(200).end(photo), 100)
})
t.teardown(() => images.close())
const disk = await smallDisk(64 * 1024 * 1024)
t.teardown(() => disk.close())

t.test(
  'a disk that fills up mid-request fails no image; /readyz and /metrics say why; all complete once freed',
  async (t) => {
    const port = await freePort()
    const worker = `http://127.0.0.1:${port}`
    // Short leases and two claims: if a full disk were counted as a crash, images would be abandoned within seconds.
    const service = await startService({
      workers: 1,
      env: {
        STORAGE_DIR: disk.dir,
        LEASE_MS: '3000',
        MAX_CLAIMS: '2',
        WORKER_CONCURRENCY: '2',
        WORK_UNIT_SIZE: '10',
        STORAGE_RETRY_S: '1'
      },
      workerEnv: { WORKER_HTTP_PORT: String(port) }
    })
    t.teardown(() => service.stop())
    const n = 60
    const urls = Array.from({ length: n }, (_, i) => `${images.url}/slow?disk=${i}`)
    // reuse=false: the images are one picture under 60 URLs, and reused ones would write nothing to the full disk.
    const { body } = await upload(service.apiUrl, csvOf(urls.map((u, i) => [i + 1, `P${i}`, [u]])), { reuse: 'false' })
    await waitFor('some progress', async () => ((await service.request(body.request_id))?.counts.succeeded ?? 0) >= 5)

    await disk.fill()
    const filledAt = Date.now()
    await waitFor('the worker to see the full disk', async () => {
      const scrape = await (await fetch(`${worker}/metrics`)).text()
      return metricValues(scrape, 'storage_failing')[''] === 1
    })
    // Long enough for several hand-backs, and for three 3 s leases to run out had they been left to.
    await new Promise((r) => setTimeout(r, 15_000))

    const during = (await service.request(body.request_id))!
    const ready = await fetch(`${worker}/readyz`)
    const readyBody = (await ready.json()) as { checks: Record<string, string>; reasons?: Record<string, string> }
    const scrape = await (await fetch(`${worker}/metrics`)).text()
    t.comment(`full for ${Math.round((Date.now() - filledAt) / 1000)} s: counts ${JSON.stringify(during.counts)}`)
    t.comment(`readyz ${ready.status} ${JSON.stringify(readyBody)}`)
    for (const name of [
      'storage_outages_total',
      'storage_failures_total',
      'storage_failing',
      'image_redownloads_total'
    ])
      t.comment(`${name} ${JSON.stringify(metricValues(scrape, name))}`)
    t.equal(during.counts.failed, 0, 'no image failed for the full disk')
    t.ok(during.counts.pending > 0, `${during.counts.pending} images wait for room`)
    t.equal(during.status, 'Processing')
    t.ok(
      during.units.every((u) => u.claims <= 1),
      `no claim was counted against MAX_CLAIMS: ${JSON.stringify(during.units.map((u) => u.claims))}`
    )
    t.equal(ready.status, 503, '/readyz: not ready')
    t.equal(readyBody.checks.storage, disk.kind)
    t.match(readyBody.reasons?.storage, disk.kind === 'full' ? /ENOSPC/ : /EACCES/, 'with the reason')
    t.equal(metricValues(scrape, 'storage_failing')[''], 1)
    t.ok(sumOf(metricValues(scrape, 'storage_outages_total')) >= 1, 'the outage is counted')
    t.notMatch(service.workers[0]!.output(), /failed unexpectedly/, 'never taken for a crash')

    await disk.free()
    const freedAt = Date.now()
    const done = await waitForStatus(service, body.request_id, ['Completed'], 120_000)
    t.comment(`completed ${Math.round((Date.now() - freedAt) / 1000)} s after the disk was freed`)
    t.equal(done.counts.succeeded, n, 'every image completed')
    t.equal(done.counts.failed, 0)
    await waitFor('the worker ready again', async () => (await fetch(`${worker}/readyz`)).status === 200)
    const after = await (await fetch(`${worker}/metrics`)).text()
    t.equal(metricValues(after, 'storage_failing')[''], 0)
    const fetches = urls.map((u) => images.hits.get(u.slice(images.url.length)) ?? 0)
    const spread = spreadOf(fetches)
    t.comment(
      `fetches per URL → URLs: ${JSON.stringify(spread)}; redownloads ${sumOf(metricValues(after, 'image_redownloads_total'))}`
    )
    t.ok(
      fetches.every((f) => f >= 1 && f <= 2),
      'each URL fetched once, or once more if the outage caught it between download and store'
    )
    t.equal(
      fetches.filter((f) => f === 2).length,
      sumOf(metricValues(after, 'image_redownloads_total')),
      '/metrics counts every re-download'
    )
  }
)
