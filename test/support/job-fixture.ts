/**
 * What a processor's spec runs against: a real store on the test run's MongoDB (a database of its own), a
 * FileStorage in a temporary directory, requests stored as the API stores them, and jobs claimed from the real
 * queue with the context the runner gives processors.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  createMetrics,
  DEFAULT_OPTIONS,
  type JobKind,
  type ProcessingOptions,
  planRequest,
  type RequestPlan,
  RequestStore
} from '@imgproc/core'
import { FileStorage } from '@imgproc/storage'
import { type Db, MongoClient } from 'mongodb'
import pLimit from 'p-limit'
import { Claim } from '../../apps/worker/src/claim.ts'
import type { ImagesDeps } from '../../apps/worker/src/jobs/images.ts'
import { mongoUri } from './database.ts'

type Log = ConstructorParameters<typeof Claim>[2]

interface ClaimOptions {
  leaseMs?: number
  shutdown?: AbortSignal
  /** Claim as of this time (a job scheduled for later). */
  at?: Date
}

export interface JobFixture {
  /** The fixture's own database, for the other stores a spec needs (the reuse index). */
  db: Db
  store: RequestStore
  storage: FileStorage
  dir: string
  metrics: ReturnType<typeof createMetrics>
  /** Stores a request of one product per URL, split into units of `unitSize`, as POST /upload would. */
  request(
    urls: string[],
    options?: { unitSize?: number; webhookUrl?: string; processing?: ProcessingOptions }
  ): Promise<RequestPlan>
  /**
   * Claims the next due job of `kind` from the real queue, with the runner's context for its processor. Nothing
   * heartbeats: a short `leaseMs` runs out, as if the claimant had died.
   */
  claim<D>(kind: JobKind, options?: ClaimOptions): Promise<Claim<D>>
}

/** `log` is the processors' logger (a silent pino: the worker's dependency, not the tests'). */
export async function jobFixture(t: { teardown(fn: () => unknown): void }, log: Log): Promise<JobFixture> {
  const client = await MongoClient.connect(mongoUri())
  const db = client.db(`j_${randomBytes(6).toString('hex')}`)
  const dir = await mkdtemp(path.join(tmpdir(), 'imgproc-jobs-'))
  t.teardown(async () => {
    await db.dropDatabase()
    await client.close()
    await rm(dir, { recursive: true, force: true })
  })
  const store = new RequestStore(db)
  await store.ensureIndexes()
  let claims = 0
  return {
    db,
    store,
    storage: new FileStorage(dir),
    dir,
    metrics: createMetrics('worker'),
    async request(urls, options = {}) {
      const products = urls.map((_, i) => ({ serial: i + 1, name: `SKU${i + 1}`, image_ids: [i] }))
      const plan = planRequest(
        randomUUID(),
        { urls, products },
        options.processing ?? DEFAULT_OPTIONS,
        options.webhookUrl,
        new Date(),
        options.unitSize ?? 25
      )
      await store.create(plan)
      return plan
    },
    async claim<D>(kind: JobKind, options: ClaimOptions = {}) {
      const lease = await store.queue.claim<D>(`spec-${++claims}`, [kind], options.leaseMs ?? 60_000, options.at)
      if (!lease) throw new Error(`no ${kind} job is due`)
      return new Claim<D>(store.queue, lease, log, options.shutdown ?? new AbortController().signal)
    }
  }
}

/** The images processor's dependencies on a fixture: loopback downloads, no compression cap, quick flushes. */
export function imagesDeps(fx: JobFixture): ImagesDeps {
  return {
    store: fx.store,
    imageDeps: {
      download: { maxBytes: 50_000_000, timeoutMs: 10_000, retries: 0, maxRedirects: 2, allowPrivateNetworks: true },
      maxInputPixels: 100_000_000,
      storage: fx.storage,
      compressSlot: (_megapixels, work) => work()
    },
    inflight: pLimit(4),
    storage: fx.storage,
    flushMs: 20,
    concurrency: 1,
    metrics: fx.metrics
  }
}
