// Issue 14 ("safe to expose"): each test attacks the real API and worker processes from loopback.
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { signPayload } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { mongoUri } from './support/database.ts'
import { ROOT } from './support/paths.ts'
import { freePort, startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, WEBHOOK_SECRET, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const run = promisify(execFile)

/** Starts an app with `env` and resolves with its exit code and output once it exits (or null after 20 s). */
function runApp(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=imgproc-source', '--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })
}

t.test(
  '1: the built-in webhook secret is refused outside development; npm start makes and keeps its own',
  async (t) => {
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
    const secret = async () =>
      (
        await run(
          'bash',
          ['-c', `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`, 'x', data],
          { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } }
        )
      ).stdout.trim()
    const first = await secret()
    t.match(first, /^[0-9a-f]{64}$/, '256 random bits')
    t.equal(await secret(), first, 'kept under ./data and reused on the next start')
    t.equal((await stat(path.join(data, 'webhook-secret'))).mode & 0o777, 0o600, 'readable by the owner only')
    t.not(
      first,
      (
        await run(
          'bash',
          [
            '-c',
            `source scripts/lib.sh && ensure_webhook_secret "$1" && echo "$WEBHOOK_SECRET"`,
            'x',
            await mkdtemp(path.join(tmpdir(), 'imgproc-data-'))
          ],
          { cwd: ROOT, env: { ...process.env, WEBHOOK_SECRET: '' } }
        )
      ).stdout.trim(),
      'each installation gets its own'
    )
  }
)

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
async function memoryMb(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1])
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
}

t.test(
  '2: a webhook receiver answering with a gzip bomb does not grow the worker; the reply is not read',
  async (t) => {
    const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024)) // about 200 KB on the wire, 200 MB if inflated
    let replies = 0
    const receiver = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        replies++
        res
          .writeHead(200, {
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            'content-length': bomb.length
          })
          .end(bomb)
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    const images = await startImageServer()
    const service = await startService({ workers: 1 })
    t.teardown(async () => {
      await service.stop()
      await images.close()
      receiver.closeAllConnections()
      receiver.close()
    })
    const pid = service.workers[0]!.child.pid!
    const before = await memoryMb(pid)
    // A missing image: nothing for sharp to do, so the only large thing the worker could hold is the reply.
    const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/missing.jpg`]]]), {
      webhook_url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`
    })
    await waitFor('webhook delivered', async () =>
      (await service.request(body.request_id))?.webhook?.state === 'delivered' ? true : null
    )
    await new Promise((r) => setTimeout(r, 500))
    const after = await memoryMb(pid)
    t.equal(replies, 1)
    t.ok(
      after.peak - before.rss < 64,
      `worker RSS ${before.rss} MB before, peak ${after.peak} MB after a ${Math.round(bomb.length / 1024)} KB gzip reply (inflated: 200 MB)`
    )
  }
)

t.test(
  '9, 14, 15: a name resolving to loopback is refused without saying the address; the webhook ends at once; logs hide query strings',
  async (t) => {
    const images = await startImageServer()
    const receiver = await startWebhookReceiver()
    // Default WEBHOOK_MAX_ATTEMPTS (8): a policy refusal must not use them up.
    const service = await startService({ workers: 1, env: { ALLOW_PRIVATE_NETWORKS: 'false' } })
    t.teardown(async () => {
      await service.stop()
      await images.close()
      await receiver.close()
    })
    const port = new URL(images.url).port
    const { status, body } = await upload(
      service.apiUrl,
      csvOf([[1, 'A', [`http://localhost:${port}/img/rocket.jpg?token=s3cr3t-image-token`]]]),
      { webhook_url: `http://localhost:${new URL(receiver.url).port}/hook?key=s3cr3t-hook-key` }
    )
    t.equal(status, 202)
    const doc = await waitForStatus(service, body.request_id, ['Completed'])
    t.match(doc.images[0], {
      status: 'failed',
      error: 'refused: localhost resolves to a non-public address (set ALLOW_PRIVATE_NETWORKS=true to allow)'
    })
    t.notMatch(doc.images[0]!.error, /127\.0\.0\.1|::1/, 'the resolved address is not revealed')
    const started = Date.now()
    const hook = await waitFor(
      'webhook given up',
      async () => {
        const webhook = (await service.request(body.request_id))?.webhook
        return webhook?.state === 'failed' ? webhook : null
      },
      10_000
    )
    t.equal(hook.attempts.length, 1, `ended after one attempt (${Date.now() - started} ms), not retried 8 times`)
    t.match(hook.attempts[0], { error: /^refused: localhost resolves to a non-public address/ })
    t.equal(receiver.received.length, 0)

    const log = service.workers[0]!.output()
    t.match(
      log,
      /"url":"http:\/\/localhost:\d+\/img\/rocket\.jpg\?\[redacted\]"/,
      'the failed image is logged with its query string redacted'
    )
    t.notMatch(log, /s3cr3t/, 'no token from a query string in the worker log')
  }
)

t.test(
  '15: the webhook receiver answers 401 to an unsigned or badly signed body before parsing it, and accepts any matching v1',
  async (t) => {
    const service = await startService({ workers: 0 })
    t.teardown(() => service.stop())
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${service.apiUrl}/webhook`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers }
      })
    for (const [what, headers] of [
      ['unsigned', {}],
      ['malformed header', { 'webhook-signature': 't=1,v1=zz' }],
      ['wrong signature', { 'webhook-signature': signPayload('not-the-secret-at-all', '{not json') }]
    ] as const) {
      const res = await post('{not json', headers)
      t.equal(res.status, 401, `${what} malformed body: 401, not 400`)
      t.notMatch(await res.text(), /JSON/, 'nothing about the body')
    }
    t.equal(
      (await post('{not json', { 'content-type': 'text/plain' })).status,
      401,
      'unsigned with another content type: 401 too'
    )
    const event = JSON.stringify({ event_id: 'evt-rolled-1', request_id: 'r1' })
    const good = signPayload(WEBHOOK_SECRET, event)
    const [ts, v1] = good.split(',')
    const stale = signPayload('the-previous-secret-xyz', event).split(',')[1]
    t.equal((await post(event, { 'webhook-signature': `${ts},${v1},${stale}` })).status, 204, 'good v1 first')
    t.equal(
      (await post(event, { 'webhook-signature': `${ts},${stale},${v1}` })).status,
      204,
      'good v1 last (before: the last one won)'
    )
    t.equal((await post(event, { 'webhook-signature': `${ts},${stale}` })).status, 401)
  }
)

t.test('14: an image over MAX_DOWNLOAD_BYTES names the limit, not "Promise was canceled"', async (t) => {
  const images = await startImageServer()
  const service = await startService({ workers: 1, env: { MAX_DOWNLOAD_BYTES: '1000' } })
  t.teardown(async () => {
    await service.stop()
    await images.close()
  })
  const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]))
  const doc = await waitForStatus(service, body.request_id, ['Completed'])
  t.match(doc.images[0], {
    status: 'failed',
    error: 'download too large: the image is larger than the 1000-byte limit (MAX_DOWNLOAD_BYTES)',
    error_kind: 'too_large'
  })
})

/** A raw HTTP/1.1 exchange: resolves with what the server sent and how long until it closed the connection. */
function rawRequest(port: number, send: (socket: Socket) => void): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1', () => send(socket))
    let reply = ''
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')))
    socket.on('error', () => undefined)
    socket.on('close', () => resolve({ reply, closedAfterMs: Date.now() - started }))
  })
}

const csvPart = (boundary: string, csv: string) =>
  `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="p.csv"\r\ncontent-type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`

/** Starts an upload whose body trickles in one byte every `everyMs`; returns a way to stop it. */
function dripUpload(
  port: number,
  everyMs: number
): { done: Promise<{ reply: string; closedAfterMs: number }>; stop: () => void } {
  let timer: NodeJS.Timeout | undefined
  let sock: Socket | undefined
  const body = csvPart(
    'drip',
    `S. No.,Product Name,Input Image Urls\n${'1,A,https://cdn.example/a.jpg\n'.repeat(1000)}`
  )
  const done = rawRequest(port, (socket) => {
    sock = socket
    socket.write(
      `POST /upload HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=drip\r\ncontent-length: ${body.length}\r\n\r\n`
    )
    let i = 0
    timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write(body[i++]!)), everyMs)
  })
  done.finally(() => clearInterval(timer))
  return {
    done,
    stop: () => {
      clearInterval(timer)
      sock?.destroy()
    }
  }
}

t.test('4: a drip-fed upload is cut off at REQUEST_TIMEOUT_MS; connections per client are capped', async (t) => {
  const service = await startService({
    workers: 0,
    env: { REQUEST_TIMEOUT_MS: '2000', MAX_CONNECTIONS_PER_CLIENT: '6' }
  })
  t.teardown(() => service.stop())
  const port = Number(new URL(service.apiUrl).port)
  const drip = await dripUpload(port, 100).done
  t.match(drip.reply, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout')
  t.ok(drip.closedAfterMs >= 1900 && drip.closedAfterMs < 6000, `closed after ${drip.closedAfterMs} ms (limit 2000 ms)`)

  // Idle keep-alive sockets from one address: past the cap, new ones are answered 503 and closed.
  const sockets: Socket[] = []
  const answers = await Promise.all(
    Array.from(
      { length: 12 },
      () =>
        new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'))
          sockets.push(socket)
          socket.once('data', (c: Buffer) => resolve(c.toString('latin1').split('\r\n')[0]!))
          socket.on('error', () => resolve('error'))
          socket.on('close', () => resolve('closed'))
        })
    )
  )
  const ok = answers.filter((a) => a.startsWith('HTTP/1.1 200')).length
  const refused = answers.filter((a) => a.startsWith('HTTP/1.1 503')).length
  t.ok(ok <= 6 && ok >= 4, `${ok} of 12 connections served (cap 6, less any the test's own fetch pool holds)`)
  t.equal(ok + refused, 12, `the other ${refused} were answered 503`)
  for (const s of sockets) s.destroy()
  await waitFor('a connection is accepted again', async () => (await fetch(`${service.apiUrl}/healthz`)).ok, 5000)
})

t.test(
  '5: at most MAX_CONCURRENT_UPLOADS are read at once; the next waits UPLOAD_QUEUE_MS, then 503 with Retry-After',
  async (t) => {
    // Two turns per client address, one in all: the second upload from this address waits for the global one.
    const service = await startService({
      workers: 0,
      env: { MAX_CONCURRENT_UPLOADS: '1', MAX_UPLOADS_PER_TENANT: '2', UPLOAD_QUEUE_MS: '300' }
    })
    t.teardown(() => service.stop())
    const port = Number(new URL(service.apiUrl).port)
    const slow = dripUpload(port, 50)
    await new Promise((r) => setTimeout(r, 300))
    const form = new FormData()
    form.append('file', new Blob([csvOf([[1, 'A', ['https://cdn.example/a.jpg']]])], { type: 'text/csv' }), 'p.csv')
    const started = Date.now()
    const busy = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    t.equal(busy.status, 503)
    t.equal(busy.headers.get('retry-after'), '1')
    t.match(await busy.json(), { message: /MAX_CONCURRENT_UPLOADS/ })
    t.ok(Date.now() - started >= 290, `waited ${Date.now() - started} ms for a turn first`)
    slow.stop()
    await slow.done
    // The turn the aborted upload held is given back.
    t.equal((await upload(service.apiUrl, csvOf([[1, 'A', ['https://cdn.example/a.jpg']]]))).status, 202)
    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text()
    t.match(metrics, /imgproc_uploads_busy_total(\{[^}]*\})? 1\n/)
  }
)

t.test('6, 11, 13: the CSV only as a UTF-8 file part; a multipart body without boundary is a 400', async (t) => {
  const service = await startService({ workers: 0 })
  t.teardown(() => service.stop())
  const port = Number(new URL(service.apiUrl).port)
  const csv = csvOf(
    Array.from({ length: 200 }, (_, i) => [i + 1, `Product ${i + 1}`, [`https://cdn.example/${i}.jpg`]])
  )
  t.ok(csv.length > 4096)
  const asField = new FormData()
  asField.append('file', csv) // curl -F "file=<x.csv": a text field, not a file
  const field = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: asField })
  t.equal(field.status, 400, 'a CSV sent as a text field is refused, not cut at 4096 bytes and accepted')
  t.match(await field.json(), { message: /as a file part/ })

  const noBoundary = await rawRequest(port, (s) =>
    s.end(
      'POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello'
    )
  )
  t.match(noBoundary.reply, /^HTTP\/1\.1 400 /)
  t.match(noBoundary.reply, /without a boundary/)
  t.notMatch(noBoundary.reply, /at .*\.js:\d+/, 'no stack trace')

  // Found by schemathesis: more fields than the form allows, then the file, was a 500 (the file stream closed early).
  const crowded = new FormData()
  for (let i = 0; i < 11; i++) crowded.append('quality', '50')
  crowded.append('file', new Blob([csv], { type: 'text/csv' }), 'p.csv')
  const tooMany = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: crowded })
  // Which of the two refusals wins is a race inside the parser; either says what is wrong.
  const tooManyBody = await tooMany.text()
  t.ok(
    [400, 413].includes(tooMany.status),
    `too many fields before the file: ${tooMany.status} ${tooManyBody}, not 500`
  )

  const latin1 = new FormData()
  latin1.append(
    'file',
    new Blob([Buffer.from('S. No.,Product Name,Input Image Urls\n1,Caf\xe9,https://cdn.example/a.jpg\n', 'latin1')], {
      type: 'text/csv'
    }),
    'p.csv'
  )
  const refused = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: latin1 })
  t.equal(refused.status, 415)
  t.match(await refused.json(), { message: /"file" is not UTF-8 text .* save it as "CSV UTF-8"/ })
  const accepted = await upload(
    service.apiUrl,
    'S. No.,Product Name,Input Image Urls\n1,Café,https://cdn.example/a.jpg\n'
  )
  t.equal(accepted.status, 202)
  t.match(
    await (await fetch(`${service.apiUrl}/status/${accepted.body.request_id}`)).text(),
    /"Café"/,
    'stored as written'
  )
})

t.test('12: security headers with a CSP that allows no inline script, on the page, the docs and the API', async (t) => {
  const service = await startService({ workers: 0 })
  t.teardown(() => service.stop())
  for (const path of ['/', '/docs/', '/healthz', '/openapi.json']) {
    const res = await fetch(service.apiUrl + path)
    t.equal(res.status, 200, path)
    const csp = res.headers.get('content-security-policy') ?? ''
    t.match(csp, /script-src 'self';/, `${path}: CSP scripts from our own origin only`)
    t.notMatch(csp, /script-src[^;]*unsafe-inline/, `${path}: no inline script`)
    t.match(csp, /object-src 'none'/)
    t.match(csp, /frame-ancestors 'self'/)
    t.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
    t.ok(res.headers.get('strict-transport-security'), path)
    t.equal(res.headers.get('cross-origin-resource-policy'), 'cross-origin', 'output images stay embeddable')
  }
  const page = await (await fetch(`${service.apiUrl}/`)).text()
  t.notMatch(page, /<script(?![^>]*\ssrc=)[^>]*>/, 'the page has no inline script element')
  t.notMatch(page, /\son[a-z]+=/i, 'and no inline event handlers')
  const docs = await (await fetch(`${service.apiUrl}/docs/`)).text()
  t.notMatch(docs, /<script(?![^>]*\ssrc=)[^>]*>/, 'Swagger UI has no inline script element')
})
