import { createServer } from 'node:http'
import { access, constants } from 'node:fs/promises'
import type { Metrics, RequestRepository } from '@imgproc/core'

/** /healthz, /readyz and /metrics on WORKER_HTTP_PORT, for orchestrators and Prometheus. */
export function startWorkerHttp(port: number, host: string, metrics: Metrics, repo: RequestRepository, storageDir: string) {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      if (req.url === '/readyz') {
        const [db, storage] = await Promise.allSettled([repo.ping(), access(storageDir, constants.W_OK)])
        const ok = db.status === 'fulfilled' && storage.status === 'fulfilled'
        const body = { status: ok ? 'ready' : 'not ready', checks: { mongodb: db.status === 'fulfilled' ? 'ok' : 'unavailable', storage: storage.status === 'fulfilled' ? 'ok' : 'not writable' } }
        return void res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      }
      if (req.url === '/metrics') return void res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics())
      res.writeHead(404).end()
    } catch {
      res.writeHead(500).end()
    }
  })
  server.listen(port, host)
  return server
}
