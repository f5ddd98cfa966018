import pLimit from 'p-limit'
import type { Logger } from 'pino'
import {
  failureKind, outputCsvKey, outputRows, processImage, ProgressBatcher, publicUrl, removeStaleTemps, tally, writeAtomically, writeOutputCsv,
  type Config, type ImageDeps, type ImageRecord, type Metrics, type RequestDocument, type RequestRepository
} from '@imgproc/core'
import { randomUUID } from 'node:crypto'

export interface ProcessContext {
  config: Config
  repo: RequestRepository
  owner: string
  log: Logger
  imageDeps: ImageDeps
  metrics: Metrics
  /** Aborted on SIGTERM: stop starting images, let running ones finish, give the request back. */
  shutdown: AbortSignal
}

export type Outcome = 'completed' | 'released' | 'lease-lost'

// Test hook: a pause between the last image and Completed, so crash tests can kill a worker exactly there.
const failpointDelayMs = Number(process.env.IMGPROC_FAILPOINT_BEFORE_COMPLETE_MS ?? 0)

/**
 * Works one claimed request to the end. Images finished by an earlier (crashed) owner are skipped; progress is
 * written in batches while a heartbeat keeps the lease. Order of effects: images → output CSV → Completed → webhook.
 */
export async function processRequest(claimed: RequestDocument, ctx: ProcessContext): Promise<Outcome> {
  const { config, repo, owner, log } = ctx
  const id = claimed.request_id
  const doc: RequestDocument = { ...claimed, ...(await repo.loadAll(claimed)) }
  const lost = new AbortController()
  // Counters are written from this complete view with every batch, so they always match the image records.
  const batcher = new ProgressBatcher((updates) => repo.recordImages(id, owner, updates, config.LEASE_MS, doc.chunk_size, tally(doc.images)), {
    maxBatch: 100,
    intervalMs: config.PROGRESS_FLUSH_MS,
    onError: (err) => log.warn({ err }, 'progress write failed; kept for the next flush'),
    onLeaseLost: () => lost.abort()
  })
  const heartbeat = setInterval(() => batcher.heartbeat().catch(() => undefined), Math.max(250, Math.floor(config.LEASE_MS / 3)))

  try {
    const todo = doc.images.flatMap((image, index) => (image.status === 'pending' ? [index] : []))
    if (doc.claims > 1) ctx.metrics.leaseTakeovers.inc()
    const stale = doc.claims > 1 ? await removeStaleTemps(config.STORAGE_DIR, id) : 0
    log.info({ images: doc.images.length, todo: todo.length, claims: doc.claims, stale_temp_files: stale }, 'processing request')
    // Twice the CPU cap in flight: downloads of the next images overlap compression of the current ones,
    // while at most that many input buffers are held in memory.
    const inflight = pLimit(config.WORKER_CONCURRENCY * 2)
    const stopped = () => ctx.shutdown.aborted || lost.signal.aborted
    await Promise.all(
      todo.map((index) =>
        inflight(async () => {
          if (stopped()) return
          const image = doc.images[index]!
          const record = await processImage({ requestId: id, index, url: image.url, options: doc.options }, ctx.imageDeps)
          doc.images[index] = record
          observe(ctx.metrics, record)
          if (record.status === 'failed') log.info({ url: record.url, reason: record.error }, 'image failed')
          batcher.add({ index, record })
        })
      )
    )
    if (lost.signal.aborted) return 'lease-lost'
    clearInterval(heartbeat) // from here on, the writes below are the only ones to this request
    if ((await flushUntilWritten(batcher, ctx)) === 'lease-lost') return 'lease-lost'
    if (ctx.shutdown.aborted && doc.images.some((i) => i.status === 'pending')) {
      await repo.releaseLease(id, owner)
      log.info('shutdown: progress saved and lease released')
      return 'released'
    }

    if (failpointDelayMs > 0) await failpoint(batcher, failpointDelayMs)
    const csvUrl = publicUrl(config.PUBLIC_BASE_URL, outputCsvKey(id))
    await writeAtomically(config.STORAGE_DIR, outputCsvKey(id), (tmp) => writeOutputCsv(tmp, outputRows(doc, config.PUBLIC_BASE_URL)))
    const completed = await repo.complete(id, owner, csvUrl, doc.webhook_url ? randomUUID() : null)
    if (!completed) return 'lease-lost'
    log.info({ succeeded: doc.images.filter((i) => i.status === 'succeeded').length, writes: batcher.writes }, 'request completed')
    return 'completed'
  } finally {
    clearInterval(heartbeat)
    batcher.stop()
  }
}

/** The last batch must land before the request can be Completed: retry through database outages. */
async function flushUntilWritten(batcher: ProgressBatcher, ctx: ProcessContext): Promise<'ok' | 'lease-lost'> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await batcher.flush()
    } catch {
      await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)))
    }
  }
}

/** Holds the worker between its last image and Completed, still heartbeating (a stand-in for a slow CSV write). */
async function failpoint(batcher: ProgressBatcher, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(250, end - Date.now())))
    await batcher.heartbeat().catch(() => undefined)
  }
}

function observe(metrics: Metrics, record: ImageRecord): void {
  metrics.images.inc({ outcome: record.status, reason: record.error ? failureKind(record.error) : '' })
  if (record.download_ms !== undefined) metrics.downloadSeconds.observe(record.download_ms / 1000)
  if (record.status !== 'succeeded') return
  metrics.compressSeconds.observe((record.compress_ms ?? 0) / 1000)
  metrics.bytesIn.inc(record.bytes_in ?? 0)
  metrics.bytesOut.inc(record.bytes_out ?? 0)
}
