// The customer's side of the multi-host test, run with plain node inside its own network namespace:
// an image host (GET /img/<corpus file>?delay=<ms>) and a webhook receiver (POST /hook records each delivery,
// GET /deliveries answers with all of them). Usage: node hosts.mjs <host> <port> <corpus dir>

import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import path from 'node:path'

const [host, port, corpus] = process.argv.slice(2)
if (!host || !port || !corpus) throw new Error('usage: node hosts.mjs <host> <port> <corpus dir>')

const deliveries = []
let imageRequests = 0

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (req.method === 'POST' && url.pathname === '/hook') {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
      res.writeHead(200).end()
    })
    return
  }
  if (req.method === 'GET' && url.pathname === '/deliveries') {
    return void res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ deliveries, imageRequests }))
  }
  const match = /^\/img\/([^/]+)$/.exec(url.pathname)
  if (req.method !== 'GET' || !match) return void res.writeHead(404).end('not found')
  imageRequests++
  // Latency-bound images: the answer waits, as a slow origin would, so workers spend the time waiting, not compressing.
  const delay = Number(url.searchParams.get('delay') ?? 0)
  setTimeout(async () => {
    try {
      const data = await readFile(path.join(corpus, path.basename(decodeURIComponent(match[1]))))
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data)
    } catch {
      res.writeHead(404).end('not found')
    }
  }, delay)
})
server.listen(Number(port), host, () => console.log(`hosts listening on http://${host}:${port}`))
