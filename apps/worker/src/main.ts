import { setTimeout as delay } from 'node:timers/promises'
import pino from 'pino'
import pLimit from 'p-limit'
import sharp from 'sharp'
import { connectMongo, loadConfig, ConfigError, RequestRepository, type Config } from '@imgproc/core'
import { processRequest } from './process-request.ts'
import { deliverWebhook } from './deliver-webhooks.ts'

const log = pino({ name: 'worker', level: process.env.LOG_LEVEL ?? 'info' })
/** Resolves after `ms`, or at once when `signal` aborts (shutdown must not wait out a poll interval). */
const sleep = (ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined)

let config: Config
try {
  config = loadConfig()
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message)
    process.exit(1)
  }
  throw err
}

const owner = config.WORKER_ID
const shutdown = new AbortController()
// libvips threads per image: with several images compressed at once, one thread each avoids oversubscribing cores.
sharp.concurrency(Number(process.env.SHARP_CONCURRENCY ?? 1))

const { client, db } = await connectWithRetry()
const repo = new RequestRepository(db)
await untilOk(() => repo.ensureIndexes(), 'creating indexes')

const compressSlot = pLimit(config.WORKER_CONCURRENCY)
const imageDeps = {
  download: {
    maxBytes: config.MAX_DOWNLOAD_BYTES,
    timeoutMs: config.DOWNLOAD_TIMEOUT_MS,
    retries: config.DOWNLOAD_RETRIES,
    maxRedirects: config.MAX_REDIRECTS,
    allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS
  },
  maxInputPixels: config.MAX_INPUT_PIXELS,
  storageDir: config.STORAGE_DIR,
  compressSlot: <T>(work: () => Promise<T>) => compressSlot(work)
}

async function claimLoop(): Promise<void> {
  while (!shutdown.signal.aborted) {
    try {
      const failed = await repo.failExhausted(config.MAX_CLAIMS)
      if (failed > 0) log.warn({ failed }, 'failed requests that were interrupted too often')
      const doc = await repo.claim(owner, config.LEASE_MS, config.MAX_CLAIMS)
      if (!doc) {
        await sleep(config.POLL_INTERVAL_MS, shutdown.signal)
        continue
      }
      const requestLog = log.child({ request_id: doc.request_id })
      const outcome = await processRequest(doc, { config, repo, owner, log: requestLog, imageDeps, shutdown: shutdown.signal })
      requestLog.info({ outcome }, 'request finished here')
    } catch (err) {
      log.error({ err }, 'claim loop error; retrying')
      await sleep(Math.max(1000, config.POLL_INTERVAL_MS), shutdown.signal)
    }
  }
}

async function deliveryLoop(): Promise<void> {
  while (!shutdown.signal.aborted) {
    try {
      const doc = await repo.claimDelivery(owner, config.WEBHOOK_TIMEOUT_MS * 2)
      if (doc) await deliverWebhook(doc, config, repo, owner, log.child({ request_id: doc.request_id }))
      else await sleep(config.POLL_INTERVAL_MS, shutdown.signal)
    } catch (err) {
      log.error({ err }, 'delivery loop error; retrying')
      await sleep(Math.max(1000, config.POLL_INTERVAL_MS), shutdown.signal)
    }
  }
}

async function connectWithRetry() {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectMongo(config.MONGODB_URI, config.MONGODB_DB)
    } catch (err) {
      log.error({ err: (err as Error).message, attempt }, 'cannot reach MongoDB; retrying')
      await sleep(Math.min(5000, 250 * attempt))
    }
  }
}

async function untilOk(work: () => Promise<unknown>, what: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return void (await work())
    } catch (err) {
      log.error({ err: (err as Error).message, attempt }, `${what} failed; retrying`)
      await sleep(Math.min(5000, 250 * attempt))
    }
  }
}

const loops = Promise.all([claimLoop(), deliveryLoop()])
log.info({ owner, concurrency: config.WORKER_CONCURRENCY, db: config.MONGODB_DB }, 'worker started')

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal, deadline_ms: config.SHUTDOWN_TIMEOUT_MS }, 'shutting down: no new claims')
    shutdown.abort()
    const deadline = setTimeout(() => {
      log.warn('shutdown deadline passed; exiting with work abandoned (its lease will expire)')
      process.exit(0)
    }, config.SHUTDOWN_TIMEOUT_MS)
    deadline.unref()
    loops.finally(async () => {
      await client.close().catch(() => undefined)
      log.info('worker stopped')
      process.exit(0)
    })
  })
}
