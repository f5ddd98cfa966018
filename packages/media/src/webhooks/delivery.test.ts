import { createServer } from 'node:http'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import { deliveryState, nextDelayMs, postWebhook } from './delivery.ts'

t.test('backoff doubles with jitter; the default 8 attempts spread over about ten minutes', async (t) => {
  t.equal(nextDelayMs(1, 5000, 0), 2500)
  t.equal(nextDelayMs(1, 5000, 0.999), 4998)
  t.equal(nextDelayMs(3, 5000, 0), 10000)
  const longest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0.999)).reduce((a, b) => a + b)
  const shortest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0)).reduce((a, b) => a + b)
  t.ok(longest > 9 * 60_000 && longest < 11 * 60_000, `at most ${(longest / 60000).toFixed(1)} min`)
  t.ok(shortest > 5 * 60_000, `at least ${(shortest / 60000).toFixed(1)} min`)
})

t.test('a 2xx delivers; anything else retries until the last attempt, which gives up', async (t) => {
  const at = new Date()
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 204 }, 8, 8), 'delivered')
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 500, error: 'HTTP 500' }, 3, 8), 'pending')
  t.equal(deliveryState({ at, duration_ms: 5, error: 'download timed out' }, 8, 8), 'failed')
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 301 }, 1, 8), 'pending', 'a redirect is not a delivery')
})

t.test('a refusal by our own URL policy ends the delivery at the first attempt', async (t) => {
  const at = new Date()
  t.equal(
    deliveryState(
      { at, duration_ms: 1, error: 'refused: localhost resolves to a non-public address', permanent: true },
      1,
      8
    ),
    'failed'
  )
})

t.test('postWebhook reads the status only: no reply body, no decompression, connection closed at once', async (t) => {
  let sent = 0
  const server = createServer((req, res) => {
    req.resume()
    if (req.url === '/500') return void res.writeHead(500).end('no')
    // An endless gzip-labelled reply: reading it would never end; decompressing it would take the memory.
    res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
    const chunk = gzipSync(Buffer.alloc(1024 * 1024))
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length
    }
    res.on('drain', pump)
    res.on('close', () => res.off('drain', pump))
    pump()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const settings = { secret: 'a-long-enough-secret', timeoutMs: 5000, allowPrivateNetworks: true }
  const started = performance.now()
  const attempt = await postWebhook(`${url}/endless`, 'e1', '{}', settings)
  t.match(attempt, { status_code: 200 })
  t.notOk(attempt.error)
  t.ok(
    performance.now() - started < 2000,
    `answered in ${Math.round(performance.now() - started)} ms, not at the ${settings.timeoutMs} ms timeout`
  )
  await new Promise((r) => setTimeout(r, 200))
  const before = sent
  await new Promise((r) => setTimeout(r, 300))
  t.equal(
    sent,
    before,
    `the connection was closed (the receiver got ${sent} bytes into its socket buffers, then stopped)`
  )
  t.match(await postWebhook(`${url}/500`, 'e2', '{}', settings), { status_code: 500, error: 'HTTP 500' })

  const refused = await postWebhook(`${url.replace('127.0.0.1', 'localhost')}/x`, 'e3', '{}', {
    ...settings,
    allowPrivateNetworks: false
  })
  t.match(refused, { permanent: true, error: /^refused: localhost resolves to a non-public address/ })
  t.equal(deliveryState(refused, 1, 8), 'failed')
})

t.test('a receiver that cannot be reached is recorded as a delivery failure, not as a download', async (t) => {
  const settings = { secret: 'a-long-enough-secret', timeoutMs: 400, allowPrivateNetworks: true }
  const closed = createServer()
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
  const port = (closed.address() as { port: number }).port
  await new Promise((r) => closed.close(r))
  const refused = await postWebhook(`http://127.0.0.1:${port}/hook`, 'e4', '{}', settings)
  t.match(refused, { error: /^delivery failed: connect ECONNREFUSED 127\.0\.0\.1:/ })
  t.notMatch(refused.error, /download/)
  t.notOk(refused.permanent, 'tried again later')

  const silent = createServer(() => undefined) // takes the request, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    silent.closeAllConnections()
    silent.close()
  })
  const timedOut = await postWebhook(
    `http://127.0.0.1:${(silent.address() as { port: number }).port}/hook`,
    'e5',
    '{}',
    settings
  )
  t.match(timedOut, { error: 'delivery timed out: no answer within 400 ms (WEBHOOK_TIMEOUT_MS)' })
})
