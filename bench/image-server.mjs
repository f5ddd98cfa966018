// The bench's image host, in a process of its own so that serving images costs the bench nothing it measures:
// `node bench/image-server.mjs <dir>` loads every file of <dir> into memory, listens on 127.0.0.1 and prints
// {"port": N}. A path names a file; the query is ignored (it only makes URLs distinct).
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import path from 'node:path'

const dir = process.argv[2]
const files = new Map(readdirSync(dir).map((name) => [name, readFileSync(path.join(dir, name))]))
const server = createServer((req, res) => {
  const data = files.get(decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1)))
  if (data) res.writeHead(200, { 'content-length': data.length }).end(data)
  else res.writeHead(404).end()
})
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })))
process.on('SIGTERM', () => process.exit(0))
