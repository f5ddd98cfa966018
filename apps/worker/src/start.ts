import os from 'node:os'
import { setTimeout as delay } from 'node:timers/promises'
import {
  type Config,
  connectMongo,
  createMetrics,
  RequestStore,
  ReuseIndex,
  redactingDestination,
  StartupError
} from '@imgproc/core'
import { HostLimiter } from '@imgproc/media'
import { checkStorage, createStorage, type StorageError, StorageHealth, watchedStorage } from '@imgproc/storage'
import pLimit from 'p-limit'
import pino, { type Logger } from 'pino'
import sharp from 'sharp'
import { handBackDelayMs } from './claim.ts'
import { compressSlots } from './compress-slots.ts'
import { startWorkerHttp } from './http.ts'
import { finishProcessor } from './jobs/finish.ts'
import { imagesProcessor } from './jobs/images.ts'
import { retentionProcessor } from './jobs/retention.ts'
import { webhookProcessor } from './jobs/webhook.ts'
import { Runner } from './runner.ts'

/**
 * Pauses at exact moments, for tests that must kill or race workers there. Production passes none; the crash
 * and race tests start the worker through an entry point of their own that does (test/support/gated-worker.ts).
 */
export interface WorkerHooks {
  /** A finisher has claimed its request and is about to write the output CSV. */
  beforeFinish?: (requestId: string) => Promise<void>
  /** A unit has recorded every image and is about to arrive at its finisher. */
  beforeUnitDone?: (requestId: string, n: number) => Promise<void>
}

export interface Worker {
  log: Logger
  /** Stops claiming, lets running jobs end or hand back their work, and closes every connection. */
  stop(): Promise<void>
}

/** Wires a worker from its configuration: storage, database, processors and the runner, then starts claiming. */
export async function startWorker(config: Config, hooks: WorkerHooks = {}): Promise<Worker> {
  const log = pino({ name: 'worker', level: config.LOG_LEVEL }, redactingDestination())
  // Image work is batch work: on a shared host the API and database keep the CPU first (WORKER_NICE, 0 to disable).
  try {
    os.setPriority(config.WORKER_NICE)
  } catch {
    /* not permitted here: run at normal priority */
  }
  // A store the worker cannot write to would fail every image: refuse to start instead, with the reason.
  const storage = await createStorage(config)
  await checkStorage(storage, { write: true }).catch((err: StorageError) => {
    throw new StartupError(`storage check failed (${err.kind}): ${err.message}`, { cause: err })
  })
  // libvips threads per image: with several images compressed at once, one thread each avoids oversubscribing cores.
  sharp.concurrency(config.SHARP_CONCURRENCY)

  const untilOk = retryingStartup(log)
  const { client, db } = await untilOk(
    () => connectMongo(config.MONGODB_URI, config.MONGODB_DB, 'imgproc-worker'),
    'connecting to MongoDB'
  )
  const store = new RequestStore(db)
  await untilOk(() => store.ensureIndexes(), 'creating indexes')
  const reuseIndex = new ReuseIndex(db)
  await untilOk(() => reuseIndex.ensureIndexes(), 'creating reuse indexes')
  if (config.RETENTION_DAYS > 0) await untilOk(() => store.jobs.scheduleRetention(), 'scheduling retention')

  const metrics = createMetrics(
    'worker',
    () => store.countActive(),
    () => health.failing !== null
  )
  // Every storage call of the work reports here: /readyz and the metrics say while the storage is failing.
  const health = new StorageHealth((err, began) => {
    metrics.storageFailures.inc({ kind: err.kind })
    if (began) {
      metrics.storageOutages.inc({ kind: err.kind })
      log.error({ kind: err.kind, err: err.message }, 'storage is failing; work is handed back until it recovers')
    }
  })
  const work = watchedStorage(storage, health)
  const http =
    config.WORKER_HTTP_PORT > 0
      ? startWorkerHttp(
          config.WORKER_HTTP_PORT,
          config.HOST,
          metrics,
          store,
          { raw: storage, health },
          config.METRICS_TOKEN
        )
      : null

  const compressSlot = compressSlots({ images: config.WORKER_CONCURRENCY, megapixels: config.COMPRESS_MEGAPIXELS })
  const hosts = new HostLimiter(config.DOWNLOAD_PER_HOST_CONCURRENCY, config.DOWNLOAD_PER_HOST_PER_SECOND)
  const processors = [
    imagesProcessor({
      store,
      imageDeps: {
        download: {
          maxBytes: config.MAX_DOWNLOAD_BYTES,
          timeoutMs: config.DOWNLOAD_TIMEOUT_MS,
          retries: config.DOWNLOAD_RETRIES,
          maxRetryAfterMs: config.DOWNLOAD_MAX_RETRY_AFTER_S * 1000,
          maxRedirects: config.MAX_REDIRECTS,
          allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS
        },
        maxInputPixels: config.MAX_INPUT_PIXELS,
        compressBounds: {
          maxScans: config.MAX_JPEG_SCANS,
          timeoutSeconds: config.COMPRESS_TIMEOUT_S,
          timeoutSecondsPerMegapixel: config.COMPRESS_TIMEOUT_S_PER_MP
        },
        storage: work,
        hostSlot: (url, work) => hosts.run(url, work),
        compressSlot
      },
      // Twice the CPU cap in flight: downloads of the next images overlap compression of the current ones, while
      // at most that many input buffers are held in memory, however many units this worker holds.
      inflight: pLimit(config.WORKER_CONCURRENCY * 2),
      storage: work,
      storageRetryMs: config.STORAGE_RETRY_S * 1000,
      storageFailing: () => health.failing,
      flushMs: config.PROGRESS_FLUSH_MS,
      concurrency: config.WORKER_UNITS,
      metrics,
      reuse: { index: reuseIndex, secret: config.WEBHOOK_SECRET },
      ...(hooks.beforeUnitDone ? { beforeDone: hooks.beforeUnitDone } : {})
    }),
    finishProcessor({
      store,
      storage: work,
      urls: config,
      metrics,
      ...(hooks.beforeFinish ? { beforeCsv: hooks.beforeFinish } : {})
    }),
    webhookProcessor({ store, config, concurrency: 4, metrics }),
    retentionProcessor({
      store,
      storage: work,
      reuse: reuseIndex,
      days: config.RETENTION_DAYS,
      everyMs: config.RETENTION_SWEEP_MS
    })
  ]
  const runner = new Runner(store.queue, processors, {
    owner: config.WORKER_ID,
    leaseMs: config.LEASE_MS,
    maxClaims: config.MAX_CLAIMS,
    pollMs: config.POLL_INTERVAL_MS,
    maxIdleMs: config.IDLE_SCAN_MS,
    log,
    metrics,
    // A storage outage hands work back for as long as it has lasted so far (at least the usual pause, at most a
    // minute): short outages are retried soon, long ones are not hammered.
    handBackDelayMs: (err) => handBackDelayMs(err, health, config.POLL_INTERVAL_MS)
  })
  await runner.start()
  log.info(
    {
      owner: config.WORKER_ID,
      concurrency: config.WORKER_CONCURRENCY,
      megapixels: config.COMPRESS_MEGAPIXELS,
      units: config.WORKER_UNITS,
      db: config.MONGODB_DB,
      wake_up: runner.mode
    },
    'worker started'
  )
  return {
    log,
    async stop() {
      await runner.close()
      http?.close()
      await client.close().catch(() => undefined)
      await storage.close().catch(() => undefined)
    }
  }
}

/** Retries start-up work that needs the database until it succeeds: a worker may start before MongoDB does. */
function retryingStartup(log: Logger) {
  return async <T>(work: () => Promise<T>, what: string): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work()
      } catch (err) {
        log.error({ err: (err as Error).message, attempt }, `${what} failed; retrying`)
        await delay(Math.min(5000, 250 * attempt))
      }
    }
  }
}
