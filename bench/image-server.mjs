// The bench's image host, in a process of its own so that serving images costs the bench nothing it measures:
// `node bench/image-server.mjs <dir> [<changed dir>]` loads every file of <dir> into memory, listens on 127.0.0.1
// and prints {"port": N}. A path names a file; the query is ignored (it only makes URLs distinct).
// Each file has an ETag and a Last-Modified, and a matching conditional GET gets 304, as a CDN answers.
// `POST /_change` replaces the files that <changed dir> holds (same names, new bytes); `GET /_stats` tells the
// body bytes sent and the GETs answered, full, conditional and 304.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'

const [dir, changedDir] = process.argv.slice(2)
const entry = (data) => ({
  data,
  etag: `"${createHash('sha256').update(data).digest('hex').slice(0, 32)}"`,
  modified: new Date().toUTCString()
})
const load = (d) => new Map(readdirSync(d).map((name) => [name, entry(readFileSync(path.join(d, name)))]))
const files = load(dir)
const stats = { bodyBytes: 0, full: 0, conditional: 0, notModified: 0 }
const server = createServer((req, res) => {
  const pathname = new URL(req.url, 'http://x').pathname
  if (req.method === 'POST' && pathname === '/_change') {
    let changed = 0
    if (changedDir) for (const [name, file] of load(changedDir)) changed += files.set(name, file) ? 1 : 0
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ changed }))
  }
  if (pathname === '/_stats')
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats))
  const file = files.get(decodeURIComponent(pathname.slice(1)))
  if (!file) return void res.writeHead(404).end()
  const validators = { etag: file.etag, 'last-modified': file.modified }
  const ifNoneMatch = req.headers['if-none-match']
  const ifModifiedSince = req.headers['if-modified-since']
  if (ifNoneMatch !== undefined || ifModifiedSince !== undefined) stats.conditional++
  else stats.full++
  const unchanged =
    ifNoneMatch !== undefined
      ? ifNoneMatch === file.etag
      : ifModifiedSince !== undefined && Date.parse(ifModifiedSince) >= Date.parse(file.modified)
  if (unchanged) {
    stats.notModified++
    return void res.writeHead(304, validators).end()
  }
  stats.bodyBytes += file.data.length
  res.writeHead(200, { 'content-length': file.data.length, ...validators }).end(file.data)
})
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))
process.on('SIGTERM', () => process.exit(0))
