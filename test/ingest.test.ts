// Issue 31, part 3: a catalogue far past the old 10,000-image cap is one request. The upload is parsed, checked
// and written in batches as it arrives, under a staged request that nobody sees until the whole file is good.
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startService, upload } from './support/service.ts'
import { multipartBody, slowUpload } from './support/slow-client.ts'
import { waitFor } from './support/wait.ts'

const ROWS = 200_000
const url = (i: number) => `https://cdn.example.com/catalogue/2026/${String(i).padStart(7, '0')}-front.jpg`
const rows = (n: number, urlOf = url) =>
  Array.from({ length: n }, (_, i): [number, string, string[]] => [i + 1, `SKU ${i + 1}`, [urlOf(i + 1)]])
/** Documents of every request, whatever its state: what a refused or dead upload must leave at none. */
const stored = async (service: Awaited<ReturnType<typeof startService>>) => ({
  requests: await service.db.collection('requests').countDocuments(),
  request_products: await service.db.collection('request_products').countDocuments(),
  jobs: await service.db.collection('jobs').countDocuments()
})
const inserts = async (service: Awaited<ReturnType<typeof startService>>) =>
  (await service.db.admin().command({ serverStatus: 1 })).opcounters.insert as number

// With the default limits: the API's own, as deployed.
const service = await startService({ workers: 0, env: { UPLOAD_STAGING_TIMEOUT_MS: '3000' } })
t.teardown(() => service.stop())

t.test(`a ${ROWS}-row upload is accepted and every row is paged back through status, in order`, async (t) => {
  const answer = await upload(service.apiUrl, csvOf(rows(ROWS)))
  t.equal(answer.status, 202, answer.body.message ?? '')
  t.match(answer.body, { status: 'Pending', total_images: ROWS, total_products: ROWS })
  const id = answer.body.request_id
  t.teardown(() => service.store.remove(id))
  let offset: number | null = 0
  let seen = 0
  let misplaced = 0
  while (offset !== null) {
    const res = await fetch(`${service.apiUrl}/status/${id}?offset=${offset}&limit=1000`)
    const page = (await res.json()) as {
      counts: { total: number }
      products: {
        next_offset: number | null
        items: Array<{ serial: number; name: string; images: Array<{ input_url: string; status: string }> }>
      }
    }
    if (seen === 0) t.match(page.counts, { total: ROWS, pending: ROWS })
    for (const p of page.products.items) {
      seen += 1
      if (p.serial !== seen || p.name !== `SKU ${seen}` || p.images[0]?.input_url !== url(seen)) misplaced += 1
    }
    offset = page.products.next_offset
  }
  t.equal(seen, ROWS, 'every row came back')
  t.equal(misplaced, 0, 'each with its name and image, in input order')
  const doc = await service.db.collection('requests').findOne({ request_id: id })
  t.match(doc, { status: 'Pending', product_count: ROWS, images: { total: ROWS } })
  const units = await service.db.collection('jobs').countDocuments({ request_id: id, kind: 'images', state: 'pending' })
  t.equal(units, doc!.units, 'every unit released')
  t.ok(doc!.units <= 2000, `${doc!.units} units of ${doc!.unit_size}: a status read sums few counters`)
})

t.test('an invalid row near the end of a large file: 400 naming it, and nothing stored', async (t) => {
  const n = 60_000
  const csv = csvOf(rows(n, (i) => (i === n - 5 ? 'ftp://cdn.example.com/bad.jpg' : url(i))))
  const before = await inserts(service)
  const answer = await upload(service.apiUrl, csv)
  t.equal(answer.status, 400)
  t.match(answer.body, { message: 'the CSV has 1 problem(s); nothing was stored' })
  t.match(answer.body.errors, [{ row: n - 4, column: 'Input Image Urls', message: /scheme "ftp"/ }])
  t.ok((await inserts(service)) - before > 10, 'rows before it had been written, staged, as they arrived')
  t.same(await stored(service), { requests: 0, request_products: 0, jobs: 0 }, 'and are gone once it is answered')
})

t.test('the API killed while the body is arriving leaves nothing behind once the sweep has run', async (t) => {
  const body = multipartBody('ingest', csvOf(rows(ROWS)))
  const sending = slowUpload(Number(new URL(service.apiUrl).port), { body, everyMs: 25, chunk: 64 * 1024 })
  t.teardown(() => sending.stop())
  const staged = await waitFor(
    'the upload to be written, staged',
    async () => {
      const doc = await service.db.collection('requests').findOne({ status: 'Staging' })
      // Its first batch is in once its first units are: pages are written before them.
      const held = doc && (await service.db.collection('jobs').countDocuments({ request_id: doc.request_id }))
      return held && held > 0 ? doc : null
    },
    120_000
  )
  t.equal(
    sending.result(),
    null,
    `unanswered: its body was still being read (${sending.sent()} of ${Buffer.byteLength(body)} bytes sent)`
  )
  service.api.child.kill('SIGKILL')
  await service.api.exited
  const left = await stored(service)
  t.ok(
    left.requests === 1 && left.request_products > 0 && left.jobs > 0,
    `the dead upload left ${JSON.stringify(left)}`
  )
  t.equal((await fetch(`${service.apiUrl}/status/${staged.request_id}`).catch(() => null))?.status ?? null, null)
  await service.restartApi()
  t.equal((await fetch(`${service.apiUrl}/status/${staged.request_id}`)).status, 404, 'never visible')
  await waitFor(
    'the sweep to remove the dead upload',
    async () => Object.values(await stored(service)).every((n) => n === 0),
    60_000
  )
  t.pass('the sweep removed the request, its product pages and its units')
})
