import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

const digest = (s: string) => createHash('sha256').update(s).digest()
/** METRICS_TOKEN, compared in constant time. */
const bearerMatches = (header: string | undefined, token: string) =>
  timingSafeEqual(digest(/^Bearer (.+)$/i.exec(header ?? '')?.[1]?.trim() ?? ''), digest(token))

import { checkReadiness, type Metrics, type RequestStore } from '@imgproc/core'
import type { Storage, StorageHealth } from '@imgproc/storage'

/**
 * /healthz, /readyz and /metrics on WORKER_HTTP_PORT, for orchestrators and Prometheus. /readyz is not ready
 * while the storage fails the work's own calls (`health`), with the reason, not only while a probe fails.
 */
export function startWorkerHttp(
  port: number,
  host: string,
  metrics: Metrics,
  repo: RequestStore,
  storage: { raw: Storage; health: StorageHealth },
  metricsToken: string
) {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/healthz')
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      if (req.url === '/readyz') {
        const { ready, body } = await checkReadiness(() => repo.ping(), storage.raw, {
          write: true,
          failing: () => storage.health.failing,
          reasons: true
        })
        return void res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      }
      if (req.url === '/metrics' && metricsToken && !bearerMatches(req.headers.authorization, metricsToken))
        return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end()
      if (req.url === '/metrics')
        return void res
          .writeHead(200, { 'content-type': metrics.registry.contentType })
          .end(await metrics.registry.metrics())
      res.writeHead(404).end()
    } catch {
      res.writeHead(500).end()
    }
  })
  server.listen(port, host)
  return server
}
