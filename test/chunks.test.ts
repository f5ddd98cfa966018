import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { csvOf, startImageServer, startService, upload, waitForStatus } from './helpers.ts'

const images = await startImageServer()
// Chunks of 3: a request of 8 products and 11 images spans the inline chunk and three chunk documents.
const service = await startService({ workers: 1, env: { REQUEST_CHUNK_SIZE: '3' } })
t.teardown(async () => { await service.stop(); await images.close() })

t.test('a request larger than one chunk: stored in small documents, paged by status, complete in the CSV', async (t) => {
  const photos = ['rocket.jpg', 'flowers.jpeg', 'chelsea.png', 'Landscape_4.jpg']
  const rows = Array.from({ length: 8 }, (_, i): [number, string, string[]] => [i + 1, `SKU${i + 1}`, [`${images.url}/img/${photos[i % 4]}?p=${i}`]])
  rows[2]![2].push(`${images.url}/img/missing.jpg`)
  rows[6]![2].push(`${images.url}/img/rocket.jpg?p=0`, `${images.url}/img/flowers.jpeg?extra=1`, `${images.url}/img/chelsea.png?extra=2`)
  const { status, body } = await upload(service.apiUrl, csvOf(rows))
  t.equal(status, 202)
  t.equal(body.total_images, 11, 'one repeated URL across chunks is one image')

  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  t.same(doc.counts, { total: 11, succeeded: 10, failed: 1, pending: 0 })
  t.equal(doc.images.length, 3, 'the request document holds only its inline chunk')
  t.equal(doc.products.length, 3)
  const chunks = await service.db.collection('request_chunks').find({ request_id: body.request_id }).sort({ n: 1 }).toArray()
  t.same(chunks.map((c) => [c._id, c.products.length, c.images.length]), [[`${body.request_id}:1`, 3, 3], [`${body.request_id}:2`, 2, 3], [`${body.request_id}:3`, 0, 2]])
  t.ok(chunks.flatMap((c) => c.images).every((i: any) => i.status !== 'pending'), 'every chunked image was recorded')

  const page = async (offset: number, limit: number) => (await (await fetch(`${service.apiUrl}/status/${body.request_id}?offset=${offset}&limit=${limit}`)).json()) as any
  const all = await page(0, 100)
  t.equal(all.products.total, 8)
  t.same(all.products.items.map((p: any) => p.name), rows.map((r) => r[1]))
  const middle = await page(2, 3)
  t.same(middle.products.items.map((p: any) => p.serial), [3, 4, 5], 'a page across a chunk boundary')
  t.match(middle.products.items[0].images[1], { input_url: `${images.url}/img/missing.jpg`, status: 'failed', error: /404/ })
  const seventh = (await page(6, 1)).products.items[0]
  t.same(seventh.images.map((i: any) => i.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded'])
  t.equal(seventh.images[1].output_url, all.products.items[0].images[0].output_url, 'the repeated URL maps to the first product’s output')
  t.same((await page(8, 10)).products.items, [])

  const csv = readFileSync(path.join(service.env.STORAGE_DIR!, body.request_id, 'output.csv'), 'utf8').trim().split('\n')
  t.equal(csv.length, 9)
  t.match(csv[3], /missing\.jpg","http[^,]+\/2\.png,"$/, 'row 3: the failed slot stays empty')
})
