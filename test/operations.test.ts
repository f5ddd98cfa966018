import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { mongoUri } from './support/database.ts'
import { ROOT } from './support/paths.ts'
import { freePort, startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const images = await startImageServer()
t.teardown(() => images.close())

t.test(
  'health, readiness and Prometheus metrics on the API and the worker; request_id on every request log line',
  async (t) => {
    const workerPort = await freePort()
    const service = await startService({ workers: 0 })
    t.teardown(() => service.stop())
    const worker = await service.startWorker({ WORKER_HTTP_PORT: String(workerPort) })
    const workerUrl = `http://127.0.0.1:${workerPort}`

    const { body } = await upload(
      service.apiUrl,
      csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`, `${images.url}/img/nope.jpg`]]]),
      { webhook_url: `${service.apiUrl}/webhook` }
    )
    await waitFor('delivered', async () => (await service.request(body.request_id))?.webhook?.state === 'delivered')

    for (const base of [service.apiUrl, workerUrl]) {
      t.equal((await fetch(`${base}/healthz`)).status, 200, `${base} healthz`)
      const ready = await fetch(`${base}/readyz`)
      t.equal(ready.status, 200)
      t.match(await ready.json(), { status: 'ready', checks: { mongodb: 'ok', storage: 'ok' } })
    }
    const metrics = await (await fetch(`${workerUrl}/metrics`)).text()
    t.match(metrics, /imgproc_images_total\{outcome="succeeded",reason="",app="worker"\} 1/)
    t.match(metrics, /imgproc_images_total\{outcome="failed",reason="http_4xx",app="worker"\} 1/)
    t.match(metrics, /imgproc_image_bytes_in_total\{app="worker"\} 112525/)
    t.match(metrics, /imgproc_image_bytes_out_total\{app="worker"\} \d+/)
    t.match(metrics, /imgproc_download_seconds_count\{app="worker"\} 2/)
    t.match(metrics, /imgproc_compress_seconds_bucket\{le="0.5",app="worker"\} 1/)
    t.match(metrics, /imgproc_requests_finished_total\{status="Completed",app="worker"\} 1/)
    t.match(metrics, /imgproc_requests\{status="Processing",app="worker"\} 0/)
    t.match(metrics, /imgproc_webhook_deliveries_total\{outcome="delivered",app="worker"\} 1/)
    for (const kind of ['images', 'finish', 'webhook'])
      t.match(metrics, new RegExp(`imgproc_claims_total\\{kind="${kind}",app="worker"\\} 1`), `one ${kind} job claimed`)
    t.match(metrics, /process_resident_memory_bytes/)
    t.match(
      await (await fetch(`${service.apiUrl}/metrics`)).text(),
      /imgproc_requests\{status="Pending",app="api"\} 0/,
      'the API reports the backlog; a scrape counts only unfinished requests, by index'
    )
    t.match(await (await fetch(`${service.apiUrl}/docs/`)).text(), /swagger/i, 'Swagger UI at /docs')

    const lines = worker
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
    const aboutRequests = lines.filter((l) =>
      /image failed|output csv written|request completed|webhook attempt/.test(l.msg)
    )
    t.ok(aboutRequests.length >= 4, `${aboutRequests.length} request log lines`)
    t.same(
      aboutRequests.filter((l) => l.request_id !== body.request_id),
      [],
      'each carries the request_id'
    )
    await waitForStatus(service, body.request_id, ['Completed'])
  }
)

t.test(
  'an idle worker waits on a change stream: no claim queries while idle, and an upload wakes it at once',
  async (t) => {
    const workerPort = await freePort()
    const service = await startService({ workers: 0 })
    t.teardown(() => service.stop())
    // The safety-net scan is a minute away; only the change stream can wake the worker sooner.
    const worker = await service.startWorker({ WORKER_HTTP_PORT: String(workerPort), IDLE_SCAN_MS: '60000' })
    t.match(worker.output(), /"wake_up":"change-stream"/)
    const queries = async () =>
      Number(
        /imgproc_claim_queries_total\{app="worker"\} (\d+)/.exec(
          await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text()
        )![1]
      )
    await waitFor('first claim query', async () => (await queries()) >= 1)
    await new Promise((r) => setTimeout(r, 500))
    const idleFrom = await queries()
    await new Promise((r) => setTimeout(r, 2000))
    t.equal(await queries(), idleFrom, 'no claim queries while idle (polling every 100 ms would have made ~20)')

    const started = performance.now()
    const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]))
    await waitForStatus(service, body.request_id, ['Completed'])
    t.ok(
      performance.now() - started < 10_000,
      `picked up at once (${Math.round(performance.now() - started)} ms), not at the next scan a minute later`
    )
    t.ok((await queries()) > idleFrom, 'the upload woke it')
  }
)

t.test(
  'the production bundles the Dockerfiles build run with plain node (no tsx, production dependencies only) and process a request',
  async (t) => {
    const run = promisify(execFile)
    const [apiOut, workerOut] = await Promise.all(
      ['api', 'worker'].map((app) => mkdtemp(path.join(tmpdir(), `deploy-${app}-`)))
    )
    await run('bash', ['scripts/build-deploy.sh', 'api', apiOut], { cwd: ROOT })
    await run('bash', ['scripts/build-deploy.sh', 'worker', workerOut], { cwd: ROOT })
    const port = await freePort()
    const env = {
      ...process.env,
      MONGODB_URI: mongoUri(),
      MONGODB_DB: `t_deploy_${port}`,
      STORAGE_DIR: path.join(apiOut, 'storage'),
      LOG_LEVEL: 'warn',
      ALLOW_PRIVATE_NETWORKS: 'true',
      DOWNLOAD_PER_HOST_PER_SECOND: '0',
      POLL_INTERVAL_MS: '100'
    }
    const api = spawn(process.execPath, ['dist/bundle/main.js'], {
      cwd: apiOut,
      env: { ...env, PORT: String(port) },
      stdio: 'ignore'
    })
    const worker = spawn(process.execPath, ['dist/bundle/main.js'], {
      cwd: workerOut,
      env: { ...env, WORKER_HTTP_PORT: String(await freePort()) },
      stdio: 'ignore'
    })
    t.teardown(() => {
      api.kill('SIGKILL')
      worker.kill('SIGKILL')
    })
    const apiUrl = `http://127.0.0.1:${port}`
    await waitFor('bundle API health', async () => (await fetch(`${apiUrl}/healthz`)).ok, 30_000)
    t.match(await (await fetch(`${apiUrl}/`)).text(), /<title>Image processor<\/title>/, 'static page shipped')
    t.equal((await fetch(`${apiUrl}/openapi.json`)).status, 200)
    const asset = await fetch(`${apiUrl}/docs/static/swagger-ui-bundle.js`, { redirect: 'manual' })
    t.equal(asset.status, 200, 'Swagger UI serves its assets from node_modules (kept outside the bundle)')
    t.match(asset.headers.get('content-type'), /javascript/)
    // The worker's bundle loads sharp (native, outside the bundle) from its own production dependencies, and
    // scores quality=auto with the WebAssembly kernels embedded in it.
    const { body } = await upload(apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]), { quality: 'auto' })
    let status: StatusView | undefined
    await waitFor(
      'the deployed worker to complete the request',
      async () => {
        status = (await (await fetch(`${apiUrl}/status/${body.request_id}`)).json()) as StatusView
        return status.status === 'Completed'
      },
      60_000
    )
    t.match(status!.counts, { succeeded: 1, failed: 0 }, 'an image compressed by the deployed worker bundle')
    t.ok(typeof status!.totals.score_min === 'number', `scored by the bundle's metric: ${status!.totals.score_min}`)
    for (const [out, dependency] of [
      [apiOut, 'fastify@'],
      [workerOut, 'sharp@']
    ] as const) {
      const installed = await readdir(path.join(out, 'node_modules/.pnpm'))
      t.same(
        installed.filter((d) => /^(tap|tsx|typescript|@tapjs|playwright|esbuild)/.test(d)),
        [],
        'dev dependencies are not in the bundle'
      )
      t.ok(
        installed.some((d) => d.startsWith(dependency)),
        'production dependencies are'
      )
    }
    // The API depends on core and storage only: no image library, no downloader, no metric (test/api-bundle.test.ts
    // proves the same of its bundle).
    t.same(
      (await readdir(path.join(apiOut, 'node_modules/.pnpm'))).filter((d) =>
        /^(sharp|@img\+sharp|got|@imgproc\+(media|ssimulacra2))@/.test(d)
      ),
      [],
      "the API's production dependencies hold no sharp, libvips, got, @imgproc/media or @imgproc/ssimulacra2"
    )
  }
)
