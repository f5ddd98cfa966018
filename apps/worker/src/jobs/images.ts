import {
  EXTENSIONS,
  finishKey,
  type ImageRecord,
  imageKey,
  type Metrics,
  ProgressBatcher,
  type RequestStore,
  redactUrl,
  tally,
  type UnitData
} from '@imgproc/core'
import { type ImageDeps, processImage } from '@imgproc/media'
import type { Storage } from '@imgproc/storage'
import type { LimitFunction } from 'p-limit'
import type { Outcome, Processor } from '../runner.ts'
import { pauseBeforeUnitDone } from '../test-hooks.ts'

export interface ImagesDeps {
  store: RequestStore
  imageDeps: ImageDeps
  /** Worker-wide cap on images in flight (downloading or compressing), shared by every unit it holds. */
  inflight: LimitFunction
  storage: Storage
  flushMs: number
  concurrency: number
  metrics: Metrics
}

/**
 * A work unit: some of one request's distinct images. Images an earlier (crashed) holder recorded are skipped;
 * finished ones are written in batches, each batch with the unit's counters in the same document update. When
 * every image is recorded the unit arrives at the request's finisher.
 */
export function imagesProcessor(deps: ImagesDeps): Processor<UnitData> {
  return {
    kind: 'images',
    concurrency: deps.concurrency,
    async process(ctx) {
      const { job, log } = ctx
      const requestId = job.request_id!
      const unit = job.data
      const images = [...unit.images]
      await deps.store.markStarted(requestId)
      const todo = images.flatMap((image, slot) => (image.status === 'pending' ? [slot] : []))
      if (job.claims > 1) {
        // What the dead holder was writing: any output name of the images still to do.
        const keys = todo.flatMap((slot) =>
          Object.values(EXTENSIONS).map((ext) => imageKey(requestId, unit.first + slot, ext))
        )
        const stale = await deps.storage.removeStale(keys)
        log.info({ todo: todo.length, claims: job.claims, stale_temp_files: stale }, 'unit taken over')
      }
      const batcher = new ProgressBatcher<number>((slots) => ctx.save(progressUpdate(images, slots)), {
        maxBatch: 50,
        intervalMs: deps.flushMs,
        onError: (err) => log.warn({ err: (err as Error).message }, 'progress write failed; kept for the next flush'),
        onLeaseLost: () => undefined // the save already marked the lease lost, which aborts ctx.signal
      })
      // The first unexpected error (storage, a bug) stops this unit from starting more images.
      const failed = new AbortController()
      const stop = AbortSignal.any([ctx.signal, failed.signal])
      try {
        await Promise.all(
          todo.map((slot) =>
            deps
              .inflight(async () => {
                if (stop.aborted) return
                const record = await processImage(
                  { requestId, index: unit.first + slot, url: images[slot]!.url, options: unit.options },
                  deps.imageDeps
                )
                images[slot] = record
                observe(deps.metrics, record)
                if (record.status === 'failed')
                  log.info(
                    {
                      image: unit.first + slot,
                      url: redactUrl(record.url),
                      kind: record.error_kind,
                      reason: record.error
                    },
                    'image failed'
                  )
                batcher.add(slot)
              })
              .catch((err) => {
                failed.abort()
                throw err
              })
          )
        )
        if ((await batcher.flushUntilWritten()) === 'lease-lost') return { kind: 'lost' }
      } finally {
        batcher.stop()
      }
      if (images.some((i) => i.status === 'pending')) return { kind: 'released' } // shutting down
      await pauseBeforeUnitDone()
      // A fenced write that succeeds proves every batch landed under this claim: only then may the unit arrive.
      if (ctx.signal.aborted || !(await ctx.save({}))) return { kind: 'lost' }
      return arriveAndFinish(deps, requestId, unit.n, { kind: 'done' })
    },
    async exhausted(ctx, reason) {
      const unit = ctx.job.data
      const images = unit.images.map(
        (image): ImageRecord =>
          image.status === 'pending'
            ? { url: image.url, status: 'failed', error: reason, error_kind: 'abandoned' }
            : image
      )
      if (!(await ctx.save({ $set: { 'data.images': images, 'data.tally': tally(images) } }))) return { kind: 'lost' }
      return arriveAndFinish(deps, ctx.job.request_id!, unit.n, { kind: 'failed', reason })
    }
  }
}

/** Arrives at the finisher before the unit is marked done: a crash in between leaves the unit to be claimed again, and arriving twice counts once. */
async function arriveAndFinish(deps: ImagesDeps, requestId: string, n: number, outcome: Outcome): Promise<Outcome> {
  await deps.store.queue.arrive(finishKey(requestId), n)
  return outcome
}

/** One fenced update for a batch: the records, and the unit's counters recomputed from the holder's complete view. */
function progressUpdate(images: ImageRecord[], slots: number[]) {
  const set: Record<string, unknown> = { 'data.tally': tally(images) }
  for (const slot of slots) set[`data.images.${slot}`] = images[slot]
  return { $set: set }
}

function observe(metrics: Metrics, record: ImageRecord): void {
  metrics.images.inc({ outcome: record.status, reason: record.error_kind ?? '' })
  if (record.download_ms !== undefined) metrics.downloadSeconds.observe(record.download_ms / 1000)
  if (record.status !== 'succeeded') return
  metrics.compressSeconds.observe((record.compress_ms ?? 0) / 1000)
  metrics.bytesIn.inc(record.bytes_in ?? 0)
  metrics.bytesOut.inc(record.bytes_out ?? 0)
}
