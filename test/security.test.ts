// Issue 14 ("safe to expose"): each test attacks the real API and worker processes from loopback.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { csvOf, freePort, mongoUri, ROOT, startImageServer, startService, startWebhookReceiver, upload, waitFor, waitForStatus, WEBHOOK_SECRET } from './helpers.ts'
import { signPayload } from '@imgproc/core'

const run = promisify(execFile)

/** Starts an app with `env` and resolves with its exit code and output once it exits (or null after 20 s). */
function runApp(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=imgproc-source', '--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, output })))
  })
}

t.test('1: the built-in webhook secret is refused outside development; npm start makes and keeps its own', async (t) => {
  const env = { WEBHOOK_SECRET: '', PORT: String(await freePort()), MONGODB_URI: mongoUri(), LOG_LEVEL: 'warn' }
  for (const app of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) {
    const production = await runApp(app, { ...env, NODE_ENV: 'production' })
    t.equal(production.code, 1, `${app} exits with NODE_ENV=production`)
    t.match(production.output, /WEBHOOK_SECRET: the built-in development secret is refused with NODE_ENV=production/)
    t.notMatch(production.output, /\n\s+at /, 'no stack trace')
  }
  const exposed = await runApp('apps/api/src/main.ts', { ...env, HOST: '0.0.0.0' })
  t.equal(exposed.code, 1, 'refused when listening beyond loopback')

  const data = await mkdtemp(path.join(tmpdir(), 'imgproc-data-'))
  const secret = async () => (await run('bash', ['-c', `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`, 'x', data], { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } })).stdout.trim()
  const first = await secret()
  t.match(first, /^[0-9a-f]{64}$/, '256 random bits')
  t.equal(await secret(), first, 'kept under ./data and reused on the next start')
  t.equal((await stat(path.join(data, 'webhook-secret'))).mode & 0o777, 0o600, 'readable by the owner only')
  t.not(first, (await run('bash', ['-c', `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`, 'x', await mkdtemp(path.join(tmpdir(), 'imgproc-data-'))], { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } })).stdout.trim(), 'each installation gets its own')
})

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1])
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
}

t.test('2: a webhook receiver answering with a gzip bomb does not grow the worker; the reply is not read', async (t) => {
  const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024)) // about 200 KB on the wire, 200 MB if inflated
  let replies = 0
  const receiver = createServer((req, res) => {
    req.resume()
    req.on('end', () => { replies++; res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb) })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  const images = await startImageServer()
  const service = await startService({ workers: 1 })
  t.teardown(async () => { await service.stop(); await images.close(); receiver.closeAllConnections(); receiver.close() })
  const pid = service.workers[0]!.child.pid!
  const before = await memoryMb(pid)
  // A missing image: nothing for sharp to do, so the only large thing the worker could hold is the reply.
  const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/missing.jpg`]]]), { webhook_url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook` })
  await waitFor('webhook delivered', async () => ((await service.request(body.request_id))?.webhook?.state === 'delivered' ? true : null))
  await new Promise((r) => setTimeout(r, 500))
  const after = await memoryMb(pid)
  t.equal(replies, 1)
  t.ok(after.peak - before.rss < 64, `worker RSS ${before.rss} MB before, peak ${after.peak} MB after a ${Math.round(bomb.length / 1024)} KB gzip reply (inflated: 200 MB)`)
})

t.test('9, 14, 15: a name resolving to loopback is refused without saying the address; the webhook ends at once; logs hide query strings', async (t) => {
  const images = await startImageServer()
  const receiver = await startWebhookReceiver()
  // Default WEBHOOK_MAX_ATTEMPTS (8): a policy refusal must not use them up.
  const service = await startService({ workers: 1, env: { ALLOW_PRIVATE_NETWORKS: 'false' } })
  t.teardown(async () => { await service.stop(); await images.close(); await receiver.close() })
  const port = new URL(images.url).port
  const { status, body } = await upload(service.apiUrl, csvOf([[1, 'A', [`http://localhost:${port}/img/rocket.jpg?token=s3cr3t-image-token`]]]), { webhook_url: `http://localhost:${new URL(receiver.url).port}/hook?key=s3cr3t-hook-key` })
  t.equal(status, 202)
  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  t.match(doc.images[0], { status: 'failed', error: 'refused: localhost resolves to a non-public address (set ALLOW_PRIVATE_NETWORKS=true to allow)' })
  t.notMatch(doc.images[0]!.error, /127\.0\.0\.1|::1/, 'the resolved address is not revealed')
  const started = Date.now()
  const hook = await waitFor('webhook given up', async () => {
    const webhook = (await service.request(body.request_id))?.webhook
    return webhook?.state === 'failed' ? webhook : null
  }, 10_000)
  t.equal(hook.attempts.length, 1, `ended after one attempt (${Date.now() - started} ms), not retried 8 times`)
  t.match(hook.attempts[0], { error: /^refused: localhost resolves to a non-public address/ })
  t.equal(receiver.received.length, 0)

  const log = service.workers[0]!.output()
  t.match(log, /"url":"http:\/\/localhost:\d+\/img\/rocket\.jpg\?\[redacted\]"/, 'the failed image is logged with its query string redacted')
  t.notMatch(log, /s3cr3t/, 'no token from a query string in the worker log')
})

t.test('15: the webhook receiver answers 401 to an unsigned or badly signed body before parsing it, and accepts any matching v1', async (t) => {
  const service = await startService({ workers: 0 })
  t.teardown(() => service.stop())
  const post = (body: string, headers: Record<string, string> = {}) => fetch(`${service.apiUrl}/webhook`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } })
  for (const [what, headers] of [['unsigned', {}], ['malformed header', { 'webhook-signature': 't=1,v1=zz' }], ['wrong signature', { 'webhook-signature': signPayload('not-the-secret-at-all', '{not json') }]] as const) {
    const res = await post('{not json', headers)
    t.equal(res.status, 401, `${what} malformed body: 401, not 400`)
    t.notMatch(await res.text(), /JSON/, 'nothing about the body')
  }
  t.equal((await post('{not json', { 'content-type': 'text/plain' })).status, 401, 'unsigned with another content type: 401 too')
  const event = JSON.stringify({ event_id: 'evt-rolled-1', request_id: 'r1' })
  const good = signPayload(WEBHOOK_SECRET, event)
  const [ts, v1] = good.split(',')
  const stale = signPayload('the-previous-secret-xyz', event).split(',')[1]
  t.equal((await post(event, { 'webhook-signature': `${ts},${v1},${stale}` })).status, 204, 'good v1 first')
  t.equal((await post(event, { 'webhook-signature': `${ts},${stale},${v1}` })).status, 204, 'good v1 last (before: the last one won)')
  t.equal((await post(event, { 'webhook-signature': `${ts},${stale}` })).status, 401)
})

t.test('14: an image over MAX_DOWNLOAD_BYTES names the limit, not "Promise was canceled"', async (t) => {
  const images = await startImageServer()
  const service = await startService({ workers: 1, env: { MAX_DOWNLOAD_BYTES: '1000' } })
  t.teardown(async () => { await service.stop(); await images.close() })
  const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]))
  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  t.match(doc.images[0], { status: 'failed', error: 'download too large: the image is larger than the 1000-byte limit (MAX_DOWNLOAD_BYTES)', error_kind: 'too_large' })
})
