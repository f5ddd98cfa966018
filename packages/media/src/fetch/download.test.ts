import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { type DownloadLimits, downloadImage, gotOptions } from './download.ts'

const jpeg = readFileSync(
  path.join(
    process.env.IMGPROC_CORPUS_DIR ??
      path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images'),
    'rocket.jpg'
  )
)
const hits = new Map<string, number>()
const arrivals = new Map<string, number[]>()
/** Answers `status` with `retryAfter` (its value, given when asked) until `times` have been answered, then the image. */
const busy =
  (path: string, status: number, retryAfter: () => string, times = 1) =>
  (_q: IncomingMessage, s: ServerResponse) =>
    (hits.get(path) ?? 0) <= times
      ? s.writeHead(status, { 'retry-after': retryAfter() }).end()
      : s.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg)
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/ok': (_q, s) => s.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg),
  '/404': (_q, s) => s.writeHead(404).end(),
  '/410': (_q, s) => s.writeHead(410).end(),
  '/403': (_q, s) => s.writeHead(403).end(),
  '/500': (_q, s) => s.writeHead(500).end(),
  '/503-then-ok': (_q, s) =>
    (hits.get('/503-then-ok') ?? 0) <= 2 ? s.writeHead(503).end() : s.writeHead(200).end(jpeg),
  '/reset': (q) => q.socket.destroy(),
  '/hang': () => undefined,
  '/drip': (_q, s) => {
    s.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 1000 })
    const timer = setInterval(() => s.write('x'), 200)
    s.on('close', () => clearInterval(timer))
  },
  '/endless': (_q, s) => {
    s.writeHead(200, { 'content-type': 'image/jpeg' })
    const chunk = Buffer.alloc(64 * 1024, 1)
    const pump = () => {
      while (s.write(chunk)) {
        /* until backpressure */
      }
    }
    s.on('drain', pump)
    pump()
  },
  '/lying-length': (_q, s) => {
    s.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 10 })
    s.socket?.write(Buffer.alloc(2 * 1024 * 1024, 1)) // the body runs on far past the header's promise
    s.socket?.end()
  },
  '/loop': (_q, s) => s.writeHead(302, { location: '/loop' }).end(),
  '/redirect-ok': (_q, s) => s.writeHead(301, { location: '/ok' }).end(),
  '/429-seconds': busy('/429-seconds', 429, () => '1', 2),
  '/503-date': busy('/503-date', 503, () => new Date(Date.now() + 2000).toUTCString()),
  '/429-hour': busy('/429-hour', 429, () => '3600')
}
const server = createServer((req, res) => {
  hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1)
  arrivals.set(req.url!, [...(arrivals.get(req.url!) ?? []), performance.now()])
  const route = routes[req.url!]
  route ? route(req, res) : res.writeHead(404).end()
})
let connections = 0
server.on('connection', () => connections++)
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
t.teardown(() => {
  server.closeAllConnections()
  server.close()
})

const limits: DownloadLimits = {
  maxBytes: 1024 * 1024,
  timeoutMs: 1500,
  retries: 2,
  maxRedirects: 3,
  allowPrivateNetworks: true
}
const get = (p: string, extra: Partial<DownloadLimits> = {}) => downloadImage(base + p, { ...limits, ...extra })

t.beforeEach(() => {
  hits.clear()
  arrivals.clear()
})

t.test('a good image arrives whole, also through a redirect', async (t) => {
  t.same(await get('/ok'), jpeg)
  t.same(await get('/redirect-ok'), jpeg)
})

t.test('downloads from one host share a kept-alive connection', async (t) => {
  await get('/ok')
  const before = connections
  for (let i = 0; i < 5; i++) t.same(await get('/ok'), jpeg)
  t.equal(connections - before, 0, 'five more downloads, no new connection')
})

t.test(
  'a connection opened where private networks are allowed never serves a download where they are not',
  async (t) => {
    const url = `http://localhost:${new URL(base).port}/ok`
    t.same(await downloadImage(url, limits), jpeg, 'allowed, and its connection kept')
    await t.rejects(downloadImage(url, { ...limits, allowPrivateNetworks: false, retries: 0 }), {
      message: /refused: localhost resolves to a non-public address/
    })
    t.equal(hits.get('/ok'), 1, 'the refused download reached no server')
  }
)

t.test('404, 410 and 403 fail at once, without retry', async (t) => {
  for (const code of ['404', '410', '403']) {
    await t.rejects(get(`/${code}`), { name: 'DownloadError', message: new RegExp(`^HTTP ${code}`) })
    t.equal(hits.get(`/${code}`), 1, `${code} tried once`)
  }
})

t.test('5xx, resets and timeouts are retried with backoff, then fail with the last reason', async (t) => {
  await t.rejects(get('/500'), { message: /^HTTP 500/ })
  t.equal(hits.get('/500'), 3, '1 try + 2 retries')
  t.same(await get('/503-then-ok'), jpeg, 'a transient 503 recovers')
  t.equal(hits.get('/503-then-ok'), 3)
  await t.rejects(get('/reset'), { message: /ECONNRESET|socket hang up/ })
  t.equal(hits.get('/reset'), 3)
  await t.rejects(get('/hang', { retries: 0, timeoutMs: 300 }), { message: /timed out/ })
})

t.test('Retry-After on 429 and 503 is waited out, in seconds or as an HTTP date', async (t) => {
  t.same(await get('/429-seconds'), jpeg)
  const gaps = (path: string) =>
    arrivals
      .get(path)!
      .slice(1)
      .map((at, i) => at - arrivals.get(path)![i]!)
  t.equal(hits.get('/429-seconds'), 3, 'two waits of Retry-After: 1, then the image')
  for (const gap of gaps('/429-seconds')) t.ok(gap >= 1000, `retried after ${gap.toFixed(0)} ms, asked 1000`)
  t.same(await get('/503-date'), jpeg)
  // The date is whole seconds, two ahead of the answer: it names a moment between 1 and 2 s later.
  t.ok(gaps('/503-date')[0]! >= 1000, `retried after ${gaps('/503-date')[0]!.toFixed(0)} ms`)
})

t.test('a Retry-After beyond DOWNLOAD_MAX_RETRY_AFTER_S fails the image at once, saying so', async (t) => {
  await t.rejects(get('/429-hour', { maxRetryAfterMs: 30_000 }), {
    name: 'DownloadError',
    kind: 'retry_after_limit',
    message:
      'HTTP 429: the host asked us to retry after 3600 s (Retry-After), longer than the 30 s we wait (DOWNLOAD_MAX_RETRY_AFTER_S)'
  })
  t.equal(hits.get('/429-hour'), 1, 'not retried')
})

t.test('a slow drip is cut by the total download deadline', async (t) => {
  const started = Date.now()
  await t.rejects(get('/drip', { retries: 0, timeoutMs: 800 }), { message: /timed out/ })
  t.ok(Date.now() - started < 3000, `stopped after ${Date.now() - started} ms`)
})

t.test('endless and oversized bodies stop at the byte limit, Content-Length or not', async (t) => {
  await t.rejects(get('/endless', { retries: 0 }), {
    message: 'download too large: the image is larger than the 1048576-byte limit (MAX_DOWNLOAD_BYTES)'
  })
  await t.rejects(
    get('/ok', { retries: 0, maxBytes: 1000 }),
    { message: /larger than the 1000-byte limit \(MAX_DOWNLOAD_BYTES\)/ },
    'Content-Length over the limit: named, not "Promise was canceled"'
  )
  await t.rejects(get('/lying-length', { retries: 0 }), { message: /too large|larger than|Parse Error|HPE/i })
})

t.test('a redirect loop stops after a few hops', async (t) => {
  await t.rejects(get('/loop'), { message: /too many redirects \(more than 3\)/ })
  t.ok(hits.get('/loop')! <= 4)
})

t.test('with private networks refused: IP literals, names resolving to loopback, IPv6 forms', async (t) => {
  const strict = { ...limits, allowPrivateNetworks: false, retries: 0 }
  const port = new URL(base).port
  for (const url of [
    `${base}/ok`,
    `http://localhost:${port}/ok`,
    `http://[::1]:${port}/ok`,
    `http://[::ffff:127.0.0.1]:${port}/ok`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/x.jpg'
  ]) {
    await t.rejects(
      downloadImage(url, strict),
      { message: /refused: .* (is a .* address \(not public|resolves to a non-public address)/ },
      url
    )
  }
  t.equal(hits.get('/ok') ?? 0, 0, 'no request reached the server')
})

t.test('redirects are checked too: the hook refuses a private target before following it', async (t) => {
  const options = gotOptions({ ...limits, allowPrivateNetworks: false })
  const hook = (options.hooks as { beforeRedirect: Array<(o: { url: URL }) => void> }).beforeRedirect[0]!
  t.throws(
    () => hook({ url: new URL('http://169.254.169.254/latest/meta-data/') }),
    /refused: 169.254.169.254 is a link-local address/
  )
  t.throws(() => hook({ url: new URL('http://[::ffff:10.0.0.1]/') }), /refused: .* private-use address/)
  t.doesNotThrow(() => hook({ url: new URL('http://93.184.216.34/') }))
})
