/** The whole service for a test: the API and N workers as child processes on a fresh database and storage. */
import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CsvRowError, RequestStore } from '@imgproc/core'
import { type Db, MongoClient } from 'mongodb'
import { mongoUri, type RequestSnapshot, snapshot } from './database.ts'
import { type Proc, startProcess } from './processes.ts'
import { freePort } from './servers.ts'
import { waitFor } from './wait.ts'

export const WEBHOOK_SECRET = 'test-secret-0123456789abcdef'
/**
 * How long the processes may take to start. Each compiles its TypeScript on start; four at once on two cores
 * shared with other work have taken 30 s.
 */
const STARTUP_MS = 90_000

export interface Service {
  apiUrl: string
  env: Record<string, string>
  db: Db
  /** The store on the service's database, for reading what the processes wrote. */
  store: RequestStore
  api: Proc
  workers: Proc[]
  startWorker(extra?: Record<string, string>): Promise<Proc>
  /** Starts the API again (after a test killed it), from `script` (default: its own entry point). */
  restartApi(script?: string): Promise<Proc>
  request(id: string): Promise<RequestSnapshot | null>
  stop(): Promise<void>
}

/**
 * API + N workers on a fresh database and storage directory; `apiEnv` and `workerEnv` go to one side only.
 * `workerScript` and `apiScript` replace the entry points (the crash and race tests' gated worker and API).
 */
export async function startService(
  options: {
    workers?: number
    env?: Record<string, string>
    apiEnv?: Record<string, string>
    workerEnv?: Record<string, string>
    workerScript?: string
    apiScript?: string
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
  const store = new RequestStore(db)
  let api = startProcess(options.apiScript ?? 'apps/api/src/main.ts', { ...env, ...options.apiEnv })
  const apiUrl = `http://127.0.0.1:${port}`
  const apiHealthy = (proc: Proc) =>
    waitFor('API health', async () => (await fetch(`${apiUrl}/healthz`)).ok, STARTUP_MS).catch((err) => {
      const exit = proc.child.exitCode ?? proc.child.signalCode ?? 'still running'
      throw new Error(`${(err as Error).message}\nAPI (${exit}) output:\n${proc.output().slice(-2000)}`)
    })
  const workers: Proc[] = []
  let n = 0
  const startWorker = async (extra: Record<string, string> = {}) => {
    // Workers log at info: their output is only captured, and tests read it (start-up, completions).
    const id = extra.WORKER_ID ?? `w${++n}-${dbName}`
    const worker: Proc = {
      ...startProcess(options.workerScript ?? 'apps/worker/src/main.ts', {
        WORKER_ID: id,
        ...env,
        LOG_LEVEL: 'info',
        ...options.workerEnv,
        ...extra
      }),
      id
    }
    workers.push(worker)
    await waitFor('worker start', () => worker.output().includes('worker started'), STARTUP_MS)
    return worker
  }
  await Promise.all([apiHealthy(api), ...Array.from({ length: options.workers ?? 1 }, () => startWorker())])
  const apis = [api]
  return {
    apiUrl,
    env,
    db,
    store,
    get api() {
      return api
    },
    workers,
    startWorker,
    async restartApi(script = 'apps/api/src/main.ts') {
      if (api.child.exitCode === null && api.child.signalCode === null) throw new Error('the API is still running')
      api = startProcess(script, { ...env, ...options.apiEnv })
      apis.push(api)
      await apiHealthy(api)
      return api
    },
    request: (id) => snapshot(store, id),
    async stop() {
      for (const p of [...apis, ...workers]) if (p.child.exitCode === null) p.child.kill('SIGKILL')
      await Promise.all([...apis, ...workers].map((p) => p.exited))
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
