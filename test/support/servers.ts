/**
 * Real HTTP servers on 127.0.0.1 that stand in for the outside world: image hosts and customers' webhook
 * endpoints.
 */
import { readFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import path from 'node:path'
import { CORPUS } from './paths.ts'

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface TestServer {
  url: string
  hits: Map<string, number>
  close(): Promise<void>
}

/** Serves corpus files at /img/<name>; `routes` add misbehaving endpoints. Counts hits per path+query. */
export async function startImageServer(routes: Record<string, Handler> = {}): Promise<TestServer> {
  const hits = new Map<string, number>()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    hits.set(req.url ?? '/', (hits.get(req.url ?? '/') ?? 0) + 1)
    const route = routes[url.pathname]
    if (route) return route(req, res)
    const match = /^\/img\/([^/]+)$/.exec(url.pathname)
    if (!match) return void res.writeHead(404).end('not found')
    try {
      const data = readFileSync(path.join(CORPUS, decodeURIComponent(match[1]!)))
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data)
    } catch {
      res.writeHead(404).end('not found')
    }
  })
  return listen(server, hits)
}

export interface ReceivedWebhook {
  headers: IncomingMessage['headers']
  body: string
  at: number
}

/** A customer's webhook endpoint: records every delivery; `respond` decides the status code per attempt. */
export async function startWebhookReceiver(
  respond: (n: number) => number = () => 200
): Promise<TestServer & { received: ReceivedWebhook[] }> {
  const received: ReceivedWebhook[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
      res.writeHead(respond(received.length)).end()
    })
  })
  return { ...(await listen(server, new Map())), received }
}

export function listen(server: Server, hits: Map<string, number> = new Map()): Promise<TestServer> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      resolve({
        url: `http://127.0.0.1:${port}`,
        hits,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections()
            server.close(() => r())
          })
      })
    })
  })
}
