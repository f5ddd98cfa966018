import type { ImageView, StatusView } from '@imgproc/core'
import t from 'tap'
import { startCatalogueServer } from './support/catalogue-server.ts'
import { csvOf } from './support/csv.ts'
import { metricValues, sumOf } from './support/scrape.ts'
import { freePort } from './support/servers.ts'
import { type Service, startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const N = 20
const CHANGED = [3, 11] // a tenth of the catalogue

async function run(service: Service, urls: string[], fields: Record<string, string> = {}, key?: string) {
  const csv = csvOf(urls.map((url, i) => [i + 1, `P${i}`, [url]]))
  const res = await upload(service.apiUrl, csv, fields, key ? { authorization: `Bearer ${key}` } : {})
  if (res.status !== 202) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`)
  await waitForStatus(service, res.body.request_id, ['Completed'], 120_000)
  const status = (await (
    await fetch(`${service.apiUrl}/status/${res.body.request_id}?limit=1000`, {
      headers: key ? { authorization: `Bearer ${key}` } : {}
    })
  ).json()) as StatusView
  const images: ImageView[] = status.products.items.map((p) => p.images[0]!)
  return { id: res.body.request_id, status, images }
}

/**
 * Update statements the server ran on the reuse index of this service's database: `top` counts per collection what
 * `opcounters` counts for the whole server, so the test files running beside this one do not count.
 */
async function indexUpdates(service: Service): Promise<number> {
  const { totals } = await service.db.admin().command({ top: 1 })
  const usage = totals as Record<string, { update: { count: number } } | undefined>
  const of = (collection: string) => usage[`${service.db.databaseName}.${collection}`]?.update.count ?? 0
  return of('outputs') + of('sources')
}

const bytesAt = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer())

t.test(
  'a re-uploaded catalogue: 304s and same content reuse stored outputs; changed images are processed',
  async (t) => {
    const host = await startCatalogueServer(N)
    const workerPort = await freePort()
    const service = await startService({ workers: 0 })
    t.teardown(async () => {
      await service.stop()
      await host.close()
    })
    // Progress written only when a unit ends (or every 50 images): the index updates counted below are per flush,
    // so a timer's flushes under a loaded machine would make them vary.
    await service.startWorker({ WORKER_HTTP_PORT: String(workerPort), PROGRESS_FLUSH_MS: '60000' })
    const scrape = async (name: string) =>
      metricValues(await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text(), name)
    const urls = Array.from({ length: N }, (_, n) => host.urlOf(n))
    const options = { format: 'webp', quality: '60' }

    const updatesBefore = await indexUpdates(service)
    const first = await run(service, urls, options)
    const updatesFirst = (await indexUpdates(service)) - updatesBefore
    t.equal(first.status.counts.succeeded, N)
    t.equal(first.status.counts.reused, 0, 'nothing to reuse the first time')
    t.same(host.counts, { full: N, conditional: 0, notModified: 0 })
    t.ok(
      first.images.every((i) => /\/images\/o\/[0-9a-f]{32}\/[0-9a-f]{64}\.webp$/.test(i.output_url!)),
      'outputs are content-addressed'
    )
    const firstBytes = await Promise.all(first.images.map((i) => bytesAt(i.output_url!)))

    for (const n of CHANGED) await host.change(n)
    host.reset()
    const compressedBefore = sumOf(await scrape('compress_seconds_count'))
    const second = await run(service, urls, options)
    const updatesSecond = (await indexUpdates(service)) - updatesBefore - updatesFirst
    // Written per batch of image records, not per image: one $max over the batch's outputs, new entries and
    // sources inserted, and only the sources that changed replaced. The run's one unit writes one batch.
    t.equal(updatesFirst, 1, `index updates, first run: ${updatesFirst} for ${N} images`)
    t.equal(updatesSecond, 1 + CHANGED.length, `index updates, second run: ${updatesSecond} for ${N} images`)
    t.same(host.counts, { full: 0, conditional: N, notModified: N - CHANGED.length }, 'every image asked conditionally')
    t.equal(second.status.counts.reused, N - CHANGED.length)
    t.equal(
      sumOf(await scrape('compress_seconds_count')) - compressedBefore,
      CHANGED.length,
      'only changed ones compressed'
    )
    for (let n = 0; n < N; n++) {
      const [before, after] = [first.images[n]!, second.images[n]!]
      if (CHANGED.includes(n)) {
        t.equal(after.reused, undefined, `${n} changed: processed`)
        t.not(after.output_url, before.output_url, `${n} changed: a new URL`)
        t.not((await bytesAt(after.output_url!)).compare(firstBytes[n]!), 0, `${n} changed: new bytes`)
      } else {
        t.equal(after.reused, 'not_modified', `${n} unchanged: 304`)
        t.equal(after.output_url, before.output_url, `${n} unchanged: the same URL`)
        t.same(await bytesAt(after.output_url!), firstBytes[n], `${n} unchanged: the same bytes`)
        t.equal(after.bytes_out, before.bytes_out, `${n}: its stats come with it`)
      }
    }
    const sourceBytes = urls.reduce((sum, _, n) => sum + (CHANGED.includes(n) ? 0 : host.bytesOf(n).length), 0)
    t.equal(second.status.totals.bytes_not_downloaded, sourceBytes, 'bytes not downloaded: the unchanged sources')
    t.ok((second.status.totals.cpu_ms_saved ?? 0) > 0, `CPU not spent: ${second.status.totals.cpu_ms_saved} ms`)
    t.same(await scrape('images_reused_total'), { '{how="not_modified"}': N - CHANGED.length })
    t.equal(sumOf(await scrape('reuse_bytes_not_downloaded_total')), sourceBytes)

    // The same bytes from a host that sends no validators: downloaded, hashed the same, not compressed.
    host.reset()
    const compressedBeforePlain = sumOf(await scrape('compress_seconds_count'))
    const plain = await run(
      service,
      urls.map((_, n) => host.urlOf(n, true)),
      options
    )
    t.same(host.counts, { full: N, conditional: 0, notModified: 0 }, 'no validators: plain GETs')
    t.ok(
      plain.images.every((i) => i.reused === 'same_content'),
      'every image reused by its content'
    )
    t.same(
      plain.images.map((i) => i.output_url),
      second.images.map((i) => i.output_url),
      'the same outputs, at the same URLs'
    )
    t.equal(sumOf(await scrape('compress_seconds_count')), compressedBeforePlain, 'nothing compressed')
    t.equal((await scrape('images_reused_total'))['{how="same_content"}'], N)
    t.equal(plain.status.totals.bytes_not_downloaded, 0, 'downloaded all the same')

    // reuse=false: everything again, under the request's own keys.
    host.reset()
    const fresh = await run(service, urls, { ...options, reuse: 'false' })
    t.same(host.counts, { full: N, conditional: 0, notModified: 0 }, 'reuse=false: no conditional GET')
    t.equal(fresh.status.counts.reused, 0)
    t.ok(fresh.images.every((i) => i.reused === undefined && i.output_url!.includes(`/images/${fresh.id}/`)))
    t.equal(sumOf(await scrape('compress_seconds_count')) - compressedBeforePlain, N, 'every image compressed')
  }
)

t.test('two tenants with the same URLs share nothing', async (t) => {
  const host = await startCatalogueServer(4)
  const service = await startService({ workers: 1, env: { API_KEYS: 'key-aaaaaaaaaaaaaaaa,key-bbbbbbbbbbbbbbbb' } })
  t.teardown(async () => {
    await service.stop()
    await host.close()
  })
  const urls = [0, 1, 2, 3].map((n) => host.urlOf(n))
  const a = await run(service, urls, {}, 'key-aaaaaaaaaaaaaaaa')
  host.reset()
  const b = await run(service, urls, {}, 'key-bbbbbbbbbbbbbbbb')
  t.same(host.counts, { full: 4, conditional: 0, notModified: 0 }, "tenant b's first run asks nothing conditionally")
  t.equal(b.status.counts.reused, 0, "nothing of tenant a's is reused")
  const scopeOf = (url: string) => /\/images\/o\/([0-9a-f]{32})\//.exec(url)![1]
  t.not(scopeOf(b.images[0]!.output_url!), scopeOf(a.images[0]!.output_url!), 'different scopes')
  for (let n = 0; n < 4; n++) t.not(b.images[n]!.output_url, a.images[n]!.output_url, `image ${n}: different keys`)
  host.reset()
  const again = await run(service, urls, {}, 'key-bbbbbbbbbbbbbbbb')
  t.equal(again.status.counts.reused, 4, "tenant b's second run reuses its own")
  t.same(
    again.images.map((i) => i.output_url),
    b.images.map((i) => i.output_url)
  )
})

t.test('retention keeps shared outputs a kept request uses and removes those nobody uses', async (t) => {
  const host = await startCatalogueServer(3)
  const service = await startService({ workers: 1, env: { RETENTION_DAYS: '1', RETENTION_SWEEP_MS: '500' } })
  t.teardown(async () => {
    await service.stop()
    await host.close()
  })
  // The old request: images 0 (shared with the new one) and 1 (its alone); the new one: 0 and 2.
  const old = await run(service, [host.urlOf(0), host.urlOf(1)])
  const recent = await run(service, [host.urlOf(0), host.urlOf(2)])
  t.equal(recent.images[0]!.reused, 'not_modified')
  const keyOf = (url: string) => new URL(url).pathname.replace(/^\/images\//, '')
  const [shared, alone, other] = [old.images[0]!, old.images[1]!, recent.images[1]!].map((i) => keyOf(i.output_url!))

  // The old request finished, and its image 1 was last referred to, two days ago.
  const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000)
  await service.db
    .collection('requests')
    .updateOne({ request_id: old.id }, { $set: { created_at: twoDaysAgo, completed_at: twoDaysAgo } })
  await service.db
    .collection<{ _id: string }>('outputs')
    .updateOne({ _id: alone! }, { $set: { last_ref_at: twoDaysAgo } })

  const gone = async () => !(await service.db.collection('requests').findOne({ request_id: old.id }))
  await waitFor('the old request to be removed', gone, 60_000)
  await waitFor(
    'the unused output to be removed',
    async () => (await fetch(`${service.apiUrl}/images/${alone}`)).status === 404,
    30_000
  )
  t.equal(await service.db.collection<{ _id: string }>('outputs').countDocuments({ _id: alone! }), 0, 'its entry too')
  for (const key of [shared, other]) {
    t.equal((await fetch(`${service.apiUrl}/images/${key}`)).status, 200, `${key} is kept: the recent request uses it`)
    t.equal(await service.db.collection<{ _id: string }>('outputs').countDocuments({ _id: key! }), 1)
  }
})
