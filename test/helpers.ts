/**
 * Integration harness: the API and workers as real child processes, a real HTTP server for images and another
 * for webhooks on 127.0.0.1, and a MongoDB client on the same server the processes use.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type {
  Counts,
  CsvRowError,
  DeliveryData,
  ImageRecord,
  JobDocument,
  RequestDocument,
  UnitData
} from '@imgproc/core'
import { type Db, MongoClient } from 'mongodb'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const CORPUS = process.env.IMGPROC_CORPUS_DIR ?? path.resolve(ROOT, '../shared/corpus/images')
export const WEBHOOK_SECRET = 'test-secret-0123456789abcdef'

export function mongoUri(): string {
  const uri = process.env.MONGODB_URI
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through `npm test`, which starts MongoDB')
  return uri
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
  everyMs = 100
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value) return value
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
}

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

function listen(server: Server, hits: Map<string, number>): Promise<TestServer> {
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

export interface Proc {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
  /** A worker's WORKER_ID: the owner its leases carry. */
  id?: string
}

// Children must not outlive a test process that is interrupted (tap's timeout, Ctrl-C): they would keep polling
// the database and skew every later measurement.
const children = new Set<ChildProcess>()
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL')
}
process.once('exit', killChildren)
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killChildren()
    process.exit(1)
  })
}

/** Runs an app from its TypeScript source, or with IMGPROC_RUN_FROM=dist from the production bundle
 * (scripts/bundle/build.mjs) as production does. */
function startProcess(script: string, env: Record<string, string>): Proc {
  const args =
    process.env.IMGPROC_RUN_FROM === 'dist'
      ? [script.replace(/\/src\/main\.ts$/, '/dist/bundle/main.js')]
      : ['--conditions=imgproc-source', '--import', 'tsx', script]
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  children.add(child)
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child)
      resolve(code)
    })
  )
  return { child, output: () => log, exited }
}

export interface Service {
  apiUrl: string
  env: Record<string, string>
  db: Db
  api: Proc
  workers: Proc[]
  startWorker(extra?: Record<string, string>): Promise<Proc>
  request(id: string): Promise<RequestSnapshot | null>
  stop(): Promise<void>
}

/** API + N workers on a fresh database and storage directory; `apiEnv` and `workerEnv` go to one side only. */
export async function startService(
  options: {
    workers?: number
    env?: Record<string, string>
    apiEnv?: Record<string, string>
    workerEnv?: Record<string, string>
    mongoUri?: string
  } = {}
): Promise<Service> {
  const port = await freePort()
  const dbName = `t_${randomBytes(6).toString('hex')}`
  const storage = await mkdtemp(path.join(tmpdir(), 'imgproc-storage-'))
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    MONGODB_URI: mongoUri(),
    MONGODB_DB: dbName,
    STORAGE_DIR: storage,
    WEBHOOK_SECRET,
    ALLOW_PRIVATE_NETWORKS: 'true',
    POLL_INTERVAL_MS: '100',
    PROGRESS_FLUSH_MS: '100',
    WEBHOOK_BACKOFF_MS: '200',
    LOG_LEVEL: 'warn',
    // Every test image comes from one local server: no per-host rate cap unless a test is about it.
    DOWNLOAD_PER_HOST_PER_SECOND: '0',
    ...options.env
  }
  const client = await MongoClient.connect(options.mongoUri ?? mongoUri(), { serverSelectionTimeoutMS: 60_000 })
  const db = client.db(dbName)
  const api = startProcess('apps/api/src/main.ts', { ...env, ...options.apiEnv })
  const apiUrl = `http://127.0.0.1:${port}`
  const workers: Proc[] = []
  let n = 0
  const startWorker = async (extra: Record<string, string> = {}) => {
    // Workers log at info: their output is only captured, and tests read it (start-up, completions).
    const id = extra.WORKER_ID ?? `w${++n}-${dbName}`
    const worker: Proc = {
      ...startProcess('apps/worker/src/main.ts', {
        WORKER_ID: id,
        ...env,
        LOG_LEVEL: 'info',
        ...options.workerEnv,
        ...extra
      }),
      id
    }
    workers.push(worker)
    await waitFor('worker start', () => worker.output().includes('worker started'), 30_000)
    return worker
  }
  await Promise.all([
    waitFor('API health', async () => (await fetch(`${apiUrl}/healthz`)).ok, 30_000),
    ...Array.from({ length: options.workers ?? 1 }, () => startWorker())
  ])
  return {
    apiUrl,
    env,
    db,
    api,
    workers,
    startWorker,
    request: (id) => snapshot(db, id),
    async stop() {
      for (const p of [api, ...workers]) if (p.child.exitCode === null) p.child.kill('SIGKILL')
      await Promise.all([api, ...workers].map((p) => p.exited))
      await db.dropDatabase().catch(() => undefined)
      await client.close()
    }
  }
}

/** POST /upload's answer: the 202 body or an error body, told apart by `status`. */
export interface UploadAnswer {
  request_id: string
  status?: string
  status_url?: string
  total_images?: number
  total_products?: number
  statusCode?: number
  message?: string
  errors?: CsvRowError[]
}

export async function upload(
  apiUrl: string,
  csv: string,
  fields: Record<string, string> = {},
  headers: Record<string, string> = {}
) {
  const form = new FormData()
  form.append('file', new Blob([csv], { type: 'text/csv' }), 'products.csv')
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  const res = await fetch(`${apiUrl}/upload`, { method: 'POST', body: form, headers })
  return { status: res.status, body: (await res.json()) as UploadAnswer }
}

export function csvOf(rows: Array<[number | string, string, string[]]>): string {
  return `${[
    'S. No.,Product Name,Input Image Urls',
    ...rows.map(([n, name, urls]) => `${n},${name},"${urls.join(',')}"`)
  ].join('\n')}\n`
}

export async function waitForStatus(
  service: Service,
  id: string,
  statuses: string[],
  timeoutMs = 60_000
): Promise<RequestSnapshot> {
  return waitFor(
    `request ${id} to reach ${statuses.join('/')}`,
    async () => {
      const doc = await service.request(id)
      return doc && statuses.includes(doc.status) ? doc : null
    },
    timeoutMs
  )
}

/**
 * A request as the tests look at it, read straight from the collections: the request document, every image
 * record in order (from its work units), counters summed over the units, its units, and its webhook delivery.
 */
export interface RequestSnapshot extends Omit<RequestDocument, 'images' | 'units'> {
  summary: RequestDocument['images']
  images: ImageRecord[]
  counts: Counts
  units: JobDocument<UnitData>[]
  finisher: JobDocument | null
  webhook: (DeliveryData & { job: JobDocument<DeliveryData> }) | null
}

export async function snapshot(db: Db, id: string): Promise<RequestSnapshot | null> {
  const doc = await db.collection<RequestDocument>('requests').findOne({ request_id: id })
  if (!doc) return null
  const jobs = db.collection<JobDocument>('jobs')
  const units = (
    (await jobs.find({ request_id: id, kind: 'images' }).toArray()) as unknown as JobDocument<UnitData>[]
  ).sort((a, b) => a.data.n - b.data.n)
  const images = units.flatMap((u) => u.data.images)
  const succeeded = images.filter((i) => i.status === 'succeeded').length
  const failed = images.filter((i) => i.status === 'failed').length
  const webhookJob = (await jobs.findOne({ key: `${id}:webhook` })) as JobDocument<DeliveryData> | null
  return {
    ...doc,
    summary: doc.images,
    images,
    counts: { total: doc.images.total, succeeded, failed, pending: doc.images.total - succeeded - failed },
    units,
    finisher: await jobs.findOne({ key: `${id}:finish` }),
    webhook: webhookJob ? { ...webhookJob.data, job: webhookJob } : null
  }
}

export interface Mongod {
  uri: string
  port: number
  dbPath: string
  child: ChildProcess
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>
  /** Starts it again on the same port and data. */
  restart(): Promise<void>
}

/**
 * A mongod of the test's own, to kill and restart (outages) or to run without a replica set (standalone). The
 * binary is the one the test setup installed (MONGOMS_SYSTEM_BINARY), or mongodb-memory-server's download.
 */
export async function startMongod(options: { replSet: boolean }): Promise<Mongod> {
  const { MongoBinary } = await import('mongodb-memory-server-core')
  const bin = await MongoBinary.getPath()
  const port = await freePort()
  const dbPath = await mkdtemp(path.join(tmpdir(), 'imgproc-mongod-'))
  const args = [
    '--port',
    String(port),
    '--bind_ip',
    '127.0.0.1',
    '--dbpath',
    dbPath,
    '--quiet',
    ...(options.replSet ? ['--replSet', 'rs0'] : [])
  ]
  const uri = `mongodb://127.0.0.1:${port}/${options.replSet ? '?replicaSet=rs0' : ''}`
  const spawnMongod = async () => {
    const child = spawn(bin, args, { stdio: 'ignore' })
    children.add(child)
    child.on('exit', () => children.delete(child))
    await waitFor(
      'mongod to answer',
      async () => {
        const client = await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
          serverSelectionTimeoutMS: 500
        })
        try {
          if (!options.replSet) return true
          const hello = await client.db('admin').command({ hello: 1 })
          if (!hello.setName)
            await client
              .db('admin')
              .command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${port}` }] } })
              .catch(() => undefined)
          return hello.isWritablePrimary === true
        } finally {
          await client.close()
        }
      },
      30_000,
      200
    )
    return child
  }
  const mongod: Mongod = {
    uri,
    port,
    dbPath,
    child: await spawnMongod(),
    async kill() {
      const exited = new Promise((r) => mongod.child.once('exit', r))
      mongod.child.kill('SIGKILL')
      await exited
    },
    async restart() {
      mongod.child = await spawnMongod()
    }
  }
  return mongod
}

/** Runs the CLI from source against `apiUrl`, as a user would; resolves with its exit code and output. */
export function runCli(apiUrl: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=imgproc-source', '--import', 'tsx', 'apps/cli/src/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, IMGPROC_API_URL: apiUrl } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (err as NodeJS.ErrnoException & { code: number }).code : 0, stdout, stderr })
    )
  })
}
