import t from 'tap'
import { serverTimeouts } from './limits.ts'

t.test('Node gets a headers timeout no longer than the request timeout (or it ignores the latter)', async (t) => {
  t.match(
    serverTimeouts({
      REQUEST_TIMEOUT_MS: 2000,
      CONNECTION_IDLE_TIMEOUT_MS: 30_000,
      MAX_CONNECTIONS_PER_CLIENT: 1
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
      MAX_CONNECTIONS_PER_CLIENT: 1
    }),
    { http: { headersTimeout: 10_000 } }
  )
})
