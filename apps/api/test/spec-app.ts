/**
 * Route specs run buildApp(deps) through Fastify's inject against the real MongoDB of the test run (MONGODB_URI,
 * a fresh database per app) and a real FileStorage in a temporary directory. No process is started.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  type Config,
  type CreationPauses,
  loadConfig,
  type ManagementPauses,
  QuotaStore,
  RequestStore
} from '@imgproc/core'
import { FileStorage, type Storage } from '@imgproc/storage'
import { type Db, MongoClient } from 'mongodb'
import { buildApp } from '../src/app.ts'

export const WEBHOOK_SECRET = 'spec-secret-0123456789abcdef'

export interface SpecApp {
  app: Awaited<ReturnType<typeof buildApp>>
  config: Config
  db: Db
  requests: RequestStore
  storage: Storage
  /** The FileStorage's directory. */
  dir: string
}

/**
 * An API on a fresh database and storage directory, closed and dropped when `t` ends. `env` is read as the
 * process environment is; `deps` replaces the store or the storage (an unreachable one, for outages).
 */
export async function specApp(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = {},
  deps: {
    requests?: RequestStore
    storage?: Storage
    creationPauses?: CreationPauses
    managementPauses?: ManagementPauses
  } = {}
): Promise<SpecApp> {
  const uri = process.env.MONGODB_URI
  if (!uri) throw new Error('MONGODB_URI is not set: run the specs through `npm test`, which starts MongoDB')
  const dir = await mkdtemp(path.join(tmpdir(), 'imgproc-spec-'))
  const dbName = `spec_${randomBytes(6).toString('hex')}`
  const config = loadConfig({
    MONGODB_URI: uri,
    MONGODB_DB: dbName,
    STORAGE_DIR: dir,
    WEBHOOK_SECRET,
    LOG_LEVEL: 'silent',
    ...env
  })
  const client = await MongoClient.connect(uri)
  const db = client.db(dbName)
  const requests = new RequestStore(db)
  const quotas = new QuotaStore(db)
  await Promise.all([requests.ensureIndexes(), quotas.ensureIndexes()])
  const storage = deps.storage ?? new FileStorage(dir)
  const app = await buildApp({
    config,
    requests: deps.requests ?? requests,
    storage,
    quotas,
    ...(deps.creationPauses ? { creationPauses: deps.creationPauses } : {}),
    ...(deps.managementPauses ? { managementPauses: deps.managementPauses } : {})
  })
  t.teardown(async () => {
    await app.close()
    await db.dropDatabase()
    await client.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { app, config, db, requests, storage, dir }
}

/** A store whose database never answers: a client of a port nothing listens on. */
export function unreachableStore(t: { teardown(fn: () => unknown): void }): RequestStore {
  const client = new MongoClient('mongodb://127.0.0.1:9/', { serverSelectionTimeoutMS: 300 })
  t.teardown(() => client.close())
  return new RequestStore(client.db('nowhere'))
}

export type FormField = string | { csv: string; type?: string; filename?: string }

/** A multipart/form-data body as clients send it (fetch's own encoding), for inject. */
export async function multipart(fields: Record<string, FormField>) {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields))
    if (typeof value === 'string') form.append(name, value)
    else form.append(name, new Blob([value.csv], { type: value.type ?? 'text/csv' }), value.filename ?? 'p.csv')
  const request = new Request('http://spec.invalid/upload', { method: 'POST', body: form })
  return {
    payload: Buffer.from(await request.arrayBuffer()),
    headers: { 'content-type': request.headers.get('content-type')! }
  }
}

/** The input CSV of `rows`: serial, name, image URLs. */
export function csvOf(rows: Array<[number, string, string[]]>): string {
  return `S. No.,Product Name,Input Image Urls\n${rows.map(([n, name, urls]) => `${n},${name},"${urls.join(',')}"`).join('\n')}\n`
}

/** The keys of an error answer: exactly ErrorBody's. */
export const ERROR_KEYS = ['error', 'message', 'statusCode']
