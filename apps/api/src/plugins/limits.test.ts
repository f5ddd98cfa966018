import t from 'tap'
import { Gate, serverTimeouts } from './limits.ts'

t.test('a gate hands out N turns; a waiter gets a freed turn or gives up after its wait', async (t) => {
  const gate = new Gate(2)
  t.equal(await gate.acquire(0), true)
  t.equal(await gate.acquire(0), true)
  const started = Date.now()
  t.equal(await gate.acquire(50), false, 'full: gave up')
  t.ok(Date.now() - started >= 45)
  const waiting = gate.acquire(1000)
  gate.release()
  t.equal(await waiting, true, 'woken by a release')
  const late = gate.acquire(30)
  t.equal(await late, false)
  gate.release()
  gate.release()
  t.equal(await gate.acquire(0), true, 'a waiter that gave up does not keep a turn')
  t.equal(await gate.acquire(0), true)
})

t.test('Node gets a headers timeout no longer than the request timeout (or it ignores the latter)', async (t) => {
  t.match(
    serverTimeouts({
      REQUEST_TIMEOUT_MS: 2000,
      CONNECTION_IDLE_TIMEOUT_MS: 30_000,
      MAX_CONNECTIONS_PER_CLIENT: 1,
      MAX_CONCURRENT_UPLOADS: 1,
      UPLOAD_QUEUE_MS: 0
    }),
    {
      requestTimeout: 2000,
      connectionTimeout: 30_000,
      http: { requestTimeout: 2000, headersTimeout: 2000, connectionsCheckingInterval: 1000 }
    }
  )
  t.match(
    serverTimeouts({
      REQUEST_TIMEOUT_MS: 60_000,
      CONNECTION_IDLE_TIMEOUT_MS: 30_000,
      MAX_CONNECTIONS_PER_CLIENT: 1,
      MAX_CONCURRENT_UPLOADS: 1,
      UPLOAD_QUEUE_MS: 0
    }),
    { http: { headersTimeout: 10_000 } }
  )
})
