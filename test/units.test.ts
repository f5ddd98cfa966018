import { readFileSync } from 'node:fs'
import path from 'node:path'
import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const images = await startImageServer()
// Units of 3: a request of 8 products and 11 distinct images is four work units.
const service = await startService({ workers: 1, env: { WORK_UNIT_SIZE: '3' } })
t.teardown(async () => {
  await service.stop()
  await images.close()
})

t.test(
  'a request split into work units: stored as small documents, paged by status, complete in the CSV',
  async (t) => {
    const photos = ['rocket.jpg', 'flowers.jpeg', 'chelsea.png', 'Landscape_4.jpg']
    const rows = Array.from({ length: 8 }, (_, i): [number, string, string[]] => [
      i + 1,
      `SKU${i + 1}`,
      [`${images.url}/img/${photos[i % 4]}?p=${i}`]
    ])
    rows[2]![2].push(`${images.url}/img/missing.jpg`)
    rows[6]![2].push(
      `${images.url}/img/rocket.jpg?p=0`,
      `${images.url}/img/flowers.jpeg?extra=1`,
      `${images.url}/img/chelsea.png?extra=2`
    )
    const { status, body } = await upload(service.apiUrl, csvOf(rows))
    t.equal(status, 202)
    t.equal(body.total_images, 11, 'one repeated URL across units is one image')

    await waitForStatus(service, body.request_id, ['Completed'])
    // Completed is written by the finisher before its own job (and maybe the last unit's) is marked ended.
    const ended = (state: string) => state === 'done' || state === 'failed'
    const doc = await waitFor('every job of the request to end', async () => {
      const d = await service.request(body.request_id)
      return d?.finisher && ended(d.finisher.state) && d.units.every((u) => ended(u.state)) ? d : null
    })
    t.equal(doc.status, 'Completed')
    t.same(doc.counts, { total: 11, succeeded: 10, failed: 1, pending: 0 })
    t.match(
      doc.summary,
      { total: 11, succeeded: 10, failed: 1, pending: 0 },
      'the request document holds the final summary'
    )
    t.same(
      doc.units.map((u) => [u.data.n, u.data.first, u.data.images.length, u.state]),
      [
        [0, 0, 3, 'done'],
        [1, 3, 3, 'done'],
        [2, 6, 3, 'done'],
        [3, 9, 2, 'done']
      ]
    )
    t.same(
      doc.units.map((u) => u.data.tally.succeeded + u.data.tally.failed),
      [3, 3, 3, 2],
      'each unit counts its own images'
    )
    t.match(doc.finisher, { state: 'done', barrier: { needed: 4 } })
    t.same([...doc.finisher!.barrier!.arrived].sort(), [0, 1, 2, 3], 'every unit arrived at the finisher')
    t.equal(images.hits.get('/img/rocket.jpg?p=0'), 1, 'the repeated URL was fetched once')

    const page = async (offset: number, limit: number) =>
      (await (
        await fetch(`${service.apiUrl}/status/${body.request_id}?offset=${offset}&limit=${limit}`)
      ).json()) as StatusView
    const all = await page(0, 100)
    t.equal(all.products.items.length, 8)
    const middle = await page(2, 3)
    t.same(
      middle.products.items.map((p) => p.serial),
      [3, 4, 5],
      'a page whose images span units'
    )
    t.match(middle.products.items[0].images[1], {
      input_url: `${images.url}/img/missing.jpg`,
      status: 'failed',
      error: /404/
    })
    const seventh = (await page(6, 1)).products.items[0]
    t.same(
      seventh.images.map((i) => i.status),
      ['succeeded', 'succeeded', 'succeeded', 'succeeded']
    )
    t.equal(
      seventh.images[1].output_url,
      all.products.items[0].images[0].output_url,
      'the repeated URL maps to the first product’s output'
    )

    const csv = readFileSync(path.join(service.env.STORAGE_DIR!, body.request_id, 'output.csv'), 'utf8')
      .trim()
      .split('\n')
    t.equal(csv.length, 9)
    // The last cell: quoted when it holds several URLs (no URL here has a quote or a comma of its own).
    const outputs = (line: string) => /(?:^|,)("[^"]*"|[^,]*)$/.exec(line)![1]!.replaceAll('"', '').split(',')
    t.same(
      outputs(csv[7]!).map((u) => new URL(u).pathname),
      seventh.images.map((i) => new URL(i.output_url!).pathname),
      'the CSV row, streamed unit by unit, has the status page’s outputs'
    )
    t.equal(outputs(csv[7]!)[1], outputs(csv[1]!)[0], 'a URL repeated from an earlier unit has that image’s one output')
    t.equal(outputs(csv[3]!)[1], '', 'a failed image keeps its slot empty')
  }
)

t.test('product rows are stored in pages of 500; a status page across a page boundary reads both', async (t) => {
  const rows = Array.from({ length: 620 }, (_, i): [number, string, string[]] => [
    i + 1,
    `SKU${i + 1}`,
    [`${images.url}/img/${i % 2 ? 'rocket.jpg' : 'flowers.jpeg'}?pages=1`]
  ])
  const { body } = await upload(service.apiUrl, csvOf(rows))
  t.equal(body.total_images, 2)
  await waitForStatus(service, body.request_id, ['Completed'])
  const pages = await service.db
    .collection('request_products')
    .find({ request_id: body.request_id })
    .sort({ n: 1 })
    .toArray()
  t.same(
    pages.map((p) => p.products.length),
    [500, 120]
  )
  const res = (await (
    await fetch(`${service.apiUrl}/status/${body.request_id}?offset=498&limit=4`)
  ).json()) as StatusView
  t.same(
    res.products.items.map((p) => p.serial),
    [499, 500, 501, 502]
  )
  t.ok(res.products.items.every((p) => p.images[0].status === 'succeeded'))
  const csv = readFileSync(path.join(service.env.STORAGE_DIR!, body.request_id, 'output.csv'), 'utf8')
    .trim()
    .split('\n')
  t.equal(
    csv.length,
    621,
    'every row of both product pages is in the CSV (the second page reuses the unit the first read)'
  )
  t.match(csv[620], /^620,SKU620,/)
})
