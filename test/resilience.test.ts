import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import path from 'node:path'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startMongod } from './support/database.ts'
import { CORPUS } from './support/paths.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const photo = readFileSync(path.join(CORPUS, 'flowers.jpeg'))
// Each image takes 100 ms to arrive, so a request of 60 is still running when we interrupt it.
const images = await startImageServer({
  '/slow': (_req, res) => void setTimeout(() => res.writeHead(200).end(photo), 100)
})
t.teardown(() => images.close())
const slowCsv = (n: number, tag: string) =>
  csvOf(
    Array.from({ length: n }, (_, i): [number, string, string[]] => [
      i + 1,
      `P${i}`,
      [`${images.url}/slow?${tag}=${i}`]
    ])
  )

t.test(
  'SIGTERM: the worker stops claiming, saves progress, releases its lease and exits 0; another continues at once',
  async (t) => {
    const service = await startService({
      workers: 1,
      env: { LEASE_MS: '60000', SHUTDOWN_TIMEOUT_MS: '5000', WORKER_CONCURRENCY: '2' }
    })
    t.teardown(() => service.stop())
    const { body } = await upload(service.apiUrl, slowCsv(60, 'term'))
    await waitFor('some progress', async () => ((await service.request(body.request_id))?.counts.succeeded ?? 0) >= 5)
    const worker = service.workers[0]!
    const stopAt = Date.now()
    worker.child.kill('SIGTERM')
    t.equal(await worker.exited, 0, 'exit code 0')
    t.ok(Date.now() - stopAt < 5000, `stopped in ${Date.now() - stopAt} ms`)
    const doc = (await service.request(body.request_id))!
    t.equal(doc.status, 'Processing')
    t.same(
      doc.units.filter((u) => u.state === 'running'),
      [],
      'every unit it held was handed back (not left to run out its 60 s lease)'
    )
    t.ok(
      doc.units.every((u) => u.claims <= 1),
      'handing back does not count as a failed claim'
    )
    t.ok(
      doc.counts.succeeded >= 5 && doc.counts.pending > 0,
      `progress saved: ${doc.counts.succeeded} done, ${doc.counts.pending} left`
    )

    const resumedAt = Date.now()
    await service.startWorker()
    const done = await waitForStatus(service, body.request_id, ['Completed'], 60_000)
    t.ok(done.started_at, `another worker finished it (${Date.now() - resumedAt} ms after start)`)
    t.equal(done.counts.succeeded, 60)
    t.equal(
      [...images.hits.entries()].filter(([k, v]) => k.includes('term=') && v !== 1).length,
      0,
      'no image done twice'
    )
  }
)

t.test('SIGTERM: the API drains in-flight requests and exits', async (t) => {
  const service = await startService({ workers: 0 })
  t.teardown(() => service.stop())
  // Half of a multipart body is sent, then SIGTERM, then the rest: the request is in flight when shutdown starts.
  const boundary = 'x-boundary'
  const body = Buffer.from(
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="p.csv"\r\ncontent-type: text/csv\r\n\r\n${slowCsv(50, 'drain')}\r\n--${boundary}--\r\n`
  )
  const { port } = new URL(service.apiUrl)
  const answered = new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/upload',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length }
      },
      (res) => {
        res.resume()
        resolve(res.statusCode!)
      }
    )
    req.on('error', reject)
    req.write(body.subarray(0, 100))
    setTimeout(() => {
      service.api.child.kill('SIGTERM')
      setTimeout(() => req.end(body.subarray(100)), 300)
    }, 200)
  })
  t.equal(await answered, 202, 'the upload under way when SIGTERM arrived was answered')
  t.equal(await service.api.exited, 0)
  await t.rejects(fetch(`${service.apiUrl}/healthz`), 'no longer accepting')
})

t.test(
  'MongoDB goes away and comes back: API answers 503, nothing is stuck, work resumes without restarts',
  async (t) => {
    const mongod = await startMongod({ replSet: true })
    const uri = mongod.uri
    const service = await startService({ workers: 1, env: { MONGODB_URI: uri, LEASE_MS: '3000' }, mongoUri: uri })
    t.teardown(async () => {
      await service.stop().catch(() => undefined)
      await mongod.kill()
    })

    const { body } = await upload(service.apiUrl, slowCsv(40, 'outage'))
    await waitFor('progress', async () => ((await service.request(body.request_id))?.counts.succeeded ?? 0) >= 3)
    await mongod.kill()

    const status = await fetch(`${service.apiUrl}/status/${body.request_id}`)
    if (status.status !== 503) t.comment(service.api.output().slice(-1500))
    t.equal(status.status, 503, 'status answers 503 while the database is away')
    t.match(await status.json(), { message: /database is unavailable/ })
    t.equal((await fetch(`${service.apiUrl}/readyz`)).status, 503)
    t.equal((await fetch(`${service.apiUrl}/healthz`)).status, 200, 'the process itself is fine')
    const rejected = await upload(service.apiUrl, slowCsv(1, 'during'))
    t.equal(rejected.status, 503)
    await new Promise((r) => setTimeout(r, 3000))
    t.equal(service.workers[0]!.child.exitCode, null, 'the worker kept running')
    t.equal(service.api.child.exitCode, null, 'the API kept running')

    await mongod.restart()
    const done = await waitForStatus(service, body.request_id, ['Completed'], 90_000)
    t.equal(done.counts.succeeded, 40, 'completed after the database came back')
    t.equal((await fetch(`${service.apiUrl}/status/${body.request_id}`)).status, 200)
    t.equal((await fetch(`${service.apiUrl}/readyz`)).status, 200)
    t.match(
      service.workers[0]!.output(),
      /interrupted by an outage|claim failed; retrying|heartbeat failed|kept for the next flush/,
      'the worker reported the outage'
    )
  }
)
