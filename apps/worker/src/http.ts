import { createServer } from 'node:http'
import { checkReadiness, type Metrics, type RequestStore, type Storage } from '@imgproc/core'

/** /healthz, /readyz and /metrics on WORKER_HTTP_PORT, for orchestrators and Prometheus. */
export function startWorkerHttp(port: number, host: string, metrics: Metrics, repo: RequestStore, storage: Storage) {
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}')
      if (req.url === '/readyz') {
        const { ready, body } = await checkReadiness(() => repo.ping(), storage, { write: true })
        return void res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body))
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
