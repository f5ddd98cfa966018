import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'

const images = await startImageServer()
const service = await startService({ workers: 2, env: { LOG_LEVEL: 'info', WORKER_CONCURRENCY: '2' } })
t.teardown(async () => {
  await service.stop()
  await images.close()
})

t.test('two workers on one database: every request completes once, no image is processed twice', async (t) => {
  const files = ['flowers.jpeg', 'rocket.jpg', 'Landscape_3.jpg', 'chelsea.png', 'coffee.png']
  const ids: string[] = []
  for (let r = 0; r < 8; r++) {
    // A query string per request makes every URL distinct, so the image server's hit counts show duplicates.
    const rows = files.map((f, i): [number, string, string[]] => [
      i + 1,
      `R${r}-SKU${i}`,
      [`${images.url}/img/${f}?r=${r}`]
    ])
    const res = await upload(service.apiUrl, csvOf(rows))
    t.equal(res.status, 202)
    ids.push(res.body.request_id)
  }
  const docs = await Promise.all(ids.map((id) => waitForStatus(service, id, ['Completed', 'Failed'], 120_000)))
  for (const doc of docs) {
    t.equal(doc.status, 'Completed', doc.request_id)
    t.ok(
      doc.units.every((u) => u.claims === 1 && u.state === 'done'),
      'every unit claimed once and done'
    )
    t.same(doc.counts, { total: 5, succeeded: 5, failed: 0, pending: 0 })
  }
  t.equal(images.hits.size, 40)
  t.same(
    [...images.hits.values()].filter((n) => n !== 1),
    [],
    'every image URL fetched exactly once'
  )

  const completions = service.workers.map((w) =>
    w
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"request completed"'))
  )
  const completedIds = completions.flat().map((l) => JSON.parse(l).request_id as string)
  t.same(completedIds.sort(), [...ids].sort(), 'each request completed by exactly one worker')
  t.ok(
    completions.every((c) => c.length > 0),
    `both workers took work (${completions.map((c) => c.length).join(' + ')})`
  )
})
