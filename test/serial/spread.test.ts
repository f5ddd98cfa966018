import sharp from 'sharp'
import t from 'tap'
import { csvOf } from '../support/csv.ts'
import { startImageServer } from '../support/servers.ts'
import { startService, upload, waitForStatus } from '../support/service.ts'

// In test/serial: tap runs it alone, so the timing compares worker counts, not neighbouring tests.
// Latency-bound images: each answers after 250 ms and is tiny, so the time is waiting, not CPU, and more
// workers can only help if they share the one request.
const IMAGES = 300
const tiny = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c86432' } })
  .png()
  .toBuffer()
const images = await startImageServer({
  '/late': (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(tiny), 250)
})
t.teardown(() => images.close())

async function timeOneRequest(workers: number, tag: string) {
  const service = await startService({ workers, env: { WORKER_CONCURRENCY: '2' } })
  try {
    const rows = Array.from({ length: IMAGES }, (_, i): [number, string, string[]] => [
      i + 1,
      `SKU${i}`,
      [`${images.url}/late?${tag}=${i}`]
    ])
    const started = Date.now()
    const { body } = await upload(service.apiUrl, csvOf(rows))
    const doc = await waitForStatus(service, body.request_id, ['Completed'], 180_000)
    const ms = Date.now() - started
    const finishers = new Set(doc.units.map((u) => u.finished_by))
    return { ms, doc, finishers }
  } finally {
    await service.stop()
  }
}

t.test(`one request of ${IMAGES} latency-bound images: 3 workers share it`, async (t) => {
  const one = await timeOneRequest(1, 'one')
  const three = await timeOneRequest(3, 'three')
  t.comment(
    `1 worker: ${one.ms} ms; 3 workers: ${three.ms} ms; ratio ${(three.ms / one.ms).toFixed(2)} (${three.doc.units.length} units)`
  )
  t.same(one.doc.counts, { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 })
  t.same(three.doc.counts, { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 })
  t.equal(three.finishers.size, 3, `every worker completed units (${[...three.finishers].join(', ')})`)
  t.ok(three.ms <= 0.45 * one.ms, `3 workers take at most 0.45× the time of one (${(three.ms / one.ms).toFixed(2)}×)`)
})
