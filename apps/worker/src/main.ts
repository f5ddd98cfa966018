import { setTimeout as delay } from 'node:timers/promises'
import os from 'node:os'
import pino from 'pino'
import pLimit from 'p-limit'
import sharp from 'sharp'
import { connectMongo, createMetrics, loadConfigOrExit, RequestRepository } from '@imgproc/core'
import { processRequest } from './process-request.ts'
import { deliverWebhook } from './deliver-webhooks.ts'
import { startWorkerHttp } from './http.ts'
import { Wakeup } from './wakeup.ts'
import { waitForWork } from './wait-for-work.ts'

/** Resolves after `ms`, or at once when `signal` aborts (shutdown must not wait out a poll interval). */
const sleep = (ms: number, signal?: AbortSignal) => delay(ms, undefined, { signal }).catch(() => undefined)

const config = loadConfigOrExit()
const log = pino({ name: 'worker', level: config.LOG_LEVEL })

const owner = config.WORKER_ID
const shutdown = new AbortController()
// Image work is batch work: on a shared host the API and database keep the CPU first (WORKER_NICE, 0 to disable).
try {
  os.setPriority(config.WORKER_NICE)
} catch {
  /* not permitted here: run at normal priority */
}
// libvips threads per image: with several images compressed at once, one thread each avoids oversubscribing cores.
sharp.concurrency(config.SHARP_CONCURRENCY)

const { client, db } = await untilOk(() => connectMongo(config.MONGODB_URI, config.MONGODB_DB), 'connecting to MongoDB')
const repo = new RequestRepository(db)
await untilOk(() => repo.ensureIndexes(), 'creating indexes')

const metrics = createMetrics('worker', () => repo.countByStatus())
const http = config.WORKER_HTTP_PORT > 0 ? startWorkerHttp(config.WORKER_HTTP_PORT, config.HOST, metrics, repo, config.STORAGE_DIR) : null

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

// Scans of `requests` cost a pass over the whole collection on FerretDB: an idle worker scans when the work
// signal moves, and otherwise at this interval, which also bounds how late an expired lease is taken over.
const idleScanMs = Math.max(config.POLL_INTERVAL_MS, Math.min(config.IDLE_SCAN_MS, Math.floor(config.LEASE_MS / 2)))

async function claimLoop(): Promise<void> {
  let exhaustedCheckAt = 0
  while (!shutdown.signal.aborted) {
    try {
      if (Date.now() >= exhaustedCheckAt) {
        const failed = await repo.failExhausted(config.MAX_CLAIMS)
        if (failed > 0) log.warn({ failed }, 'failed requests that were interrupted too often')
        exhaustedCheckAt = Date.now() + idleScanMs
      }
      const seen = await repo.workSignal() // read before the scan, so work announced during it is not missed
      const doc = await repo.claim(owner, config.LEASE_MS, config.MAX_CLAIMS)
      metrics.claimScans.inc()
      if (!doc) {
        await waitForWork(repo, seen, { pollMs: config.POLL_INTERVAL_MS, maxIdleMs: idleScanMs, signal: shutdown.signal })
        continue
      }
      const requestLog = log.child({ request_id: doc.request_id })
      const outcome = await processRequest(doc, { config, repo, owner, log: requestLog, imageDeps, metrics, shutdown: shutdown.signal })
      requestLog.info({ outcome }, 'request finished here')
      if (outcome === 'completed' && doc.webhook_url) deliveries.wake()
    } catch (err) {
      log.error({ err }, 'claim loop error; retrying')
      await sleep(Math.max(1000, config.POLL_INTERVAL_MS), shutdown.signal)
    }
  }
}

const deliveries = new Wakeup()
const IDLE_DELIVERY_POLL_MAX_MS = 5000

/**
 * Polls for due webhooks, backing off while there are none (each poll is a collection scan on FerretDB), but
 * woken at once when this worker completes a request or when a retry it scheduled falls due.
 */
async function deliveryLoop(): Promise<void> {
  let idle = config.POLL_INTERVAL_MS
  while (!shutdown.signal.aborted) {
    try {
      const doc = await repo.claimDelivery(owner, config.WEBHOOK_TIMEOUT_MS * 2)
      if (doc) {
        const retryAt = await deliverWebhook(doc, config, repo, owner, log.child({ request_id: doc.request_id }), metrics)
        if (retryAt) deliveries.wakeAt(retryAt)
        idle = config.POLL_INTERVAL_MS
        continue
      }
      await deliveries.wait(idle, shutdown.signal)
      idle = Math.min(IDLE_DELIVERY_POLL_MAX_MS, idle * 2)
    } catch (err) {
      log.error({ err }, 'delivery loop error; retrying')
      await sleep(Math.max(1000, config.POLL_INTERVAL_MS), shutdown.signal)
    }
  }
}

/** Retries start-up work that needs the database until it succeeds: a worker may start before MongoDB does. */
async function untilOk<T>(work: () => Promise<T>, what: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
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
      http?.close()
      await client.close().catch(() => undefined)
      log.info('worker stopped')
      process.exit(0)
    })
  })
}
