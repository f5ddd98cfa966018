import os from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import { connectMongo, createMetrics, loadConfigOrExit, RequestStore } from '@imgproc/core'
import { HostLimiter } from '@imgproc/media'
import { checkStorageOrExit, createStorage } from '@imgproc/storage'
import pLimit from 'p-limit'
import pino from 'pino'
import sharp from 'sharp'
import { startWorkerHttp } from './http.ts'
import { finishProcessor } from './jobs/finish.ts'
import { imagesProcessor } from './jobs/images.ts'
import { RETENTION_KEY, retentionProcessor } from './jobs/retention.ts'
import { webhookProcessor } from './jobs/webhook.ts'
import { Runner } from './runner.ts'

const config = loadConfigOrExit()
const log = pino({ name: 'worker', level: config.LOG_LEVEL })

// Image work is batch work: on a shared host the API and database keep the CPU first (WORKER_NICE, 0 to disable).
try {
  os.setPriority(config.WORKER_NICE)
} catch {
  /* not permitted here: run at normal priority */
}
// A store the worker cannot write to would fail every image: refuse to start instead, with the reason.
const storage = await createStorage(config)
await checkStorageOrExit(storage, { write: true })
// libvips threads per image: with several images compressed at once, one thread each avoids oversubscribing cores.
sharp.concurrency(config.SHARP_CONCURRENCY)

const { client, db } = await untilOk(
  () => connectMongo(config.MONGODB_URI, config.MONGODB_DB, 'imgproc-worker'),
  'connecting to MongoDB'
)
const store = new RequestStore(db)
await untilOk(() => store.ensureIndexes(), 'creating indexes')
if (config.RETENTION_DAYS > 0)
  await untilOk(
    () => store.queue.enqueue([{ kind: 'retention', key: RETENTION_KEY, data: {} }]),
    'scheduling retention'
  )

const metrics = createMetrics('worker', () => store.countActive())
const http =
  config.WORKER_HTTP_PORT > 0
    ? startWorkerHttp(config.WORKER_HTTP_PORT, config.HOST, metrics, store, storage, config.METRICS_TOKEN)
    : null

const compressSlot = pLimit(config.WORKER_CONCURRENCY)
const hosts = new HostLimiter(config.DOWNLOAD_PER_HOST_CONCURRENCY, config.DOWNLOAD_PER_HOST_PER_SECOND)
const processors = [
  imagesProcessor({
    store,
    imageDeps: {
      download: {
        maxBytes: config.MAX_DOWNLOAD_BYTES,
        timeoutMs: config.DOWNLOAD_TIMEOUT_MS,
        retries: config.DOWNLOAD_RETRIES,
        maxRedirects: config.MAX_REDIRECTS,
        allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS
      },
      maxInputPixels: config.MAX_INPUT_PIXELS,
      storage,
      hostSlot: (url, work) => hosts.run(url, work),
      compressSlot: <T>(work: () => Promise<T>) => compressSlot(work)
    },
    // Twice the CPU cap in flight: downloads of the next images overlap compression of the current ones, while
    // at most that many input buffers are held in memory, however many units this worker holds.
    inflight: pLimit(config.WORKER_CONCURRENCY * 2),
    storage,
    flushMs: config.PROGRESS_FLUSH_MS,
    concurrency: config.WORKER_UNITS,
    metrics
  }),
  finishProcessor({ store, storage, urls: config, metrics }),
  webhookProcessor({ store, config, concurrency: 4, metrics }),
  retentionProcessor({ store, storage, days: config.RETENTION_DAYS, everyMs: config.RETENTION_SWEEP_MS })
]
const runner = new Runner(store.queue, processors, {
  owner: config.WORKER_ID,
  leaseMs: config.LEASE_MS,
  maxClaims: config.MAX_CLAIMS,
  pollMs: config.POLL_INTERVAL_MS,
  maxIdleMs: config.IDLE_SCAN_MS,
  log,
  metrics
})
await runner.start()
log.info(
  {
    owner: config.WORKER_ID,
    concurrency: config.WORKER_CONCURRENCY,
    units: config.WORKER_UNITS,
    db: config.MONGODB_DB,
    wake_up: runner.mode
  },
  'worker started'
)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal, deadline_ms: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: no new claims')
    setTimeout(() => {
      log.warn('shutdown deadline passed; exiting with work abandoned (its lease will expire)')
      process.exit(1) // not a clean stop: supervisors should know
    }, config.SHUTDOWN_TIMEOUT_MS).unref()
    runner.close().finally(async () => {
      http?.close()
      await client.close().catch(() => undefined)
      await storage.close().catch(() => undefined)
      log.info('worker stopped')
      process.exit(0)
    })
  })
}

/** Retries start-up work that needs the database until it succeeds: a worker may start before MongoDB does. */
async function untilOk<T>(work: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (err) {
      log.error({ err: (err as Error).message, attempt }, `${what} failed; retrying`)
      await delay(Math.min(5000, 250 * attempt))
    }
  }
}
