import {
  EXTENSIONS,
  type ImageRecord,
  imageKey,
  imagesRecorded,
  type Metrics,
  type RequestStore,
  type ResolvedOutput,
  redactUrl,
  type UnitData,
  unitArrival
} from '@imgproc/core'
import { type ImageDeps, processImage } from '@imgproc/media'
import type { Storage } from '@imgproc/storage'
import type { LimitFunction } from 'p-limit'
import { ProgressBatcher } from '../progress-batcher.ts'
import type { Processor } from './contract.ts'

export interface ImagesDeps {
  store: RequestStore
  imageDeps: ImageDeps
  /** Worker-wide cap on images in flight (downloading or compressing), shared by every unit it holds. */
  inflight: LimitFunction
  storage: Storage
  flushMs: number
  concurrency: number
  metrics: Metrics
  /** A pause once every image is recorded, before the unit arrives at its finisher (race tests; none otherwise). */
  beforeDone?: (requestId: string, n: number) => Promise<void>
}

/**
 * A work unit: some of one request's distinct images. Images an earlier (crashed) run recorded are skipped;
 * finished ones are written in batches, each batch with the unit's counters in the same write. When every image
 * is recorded the unit arrives at the request's finisher.
 */
export function imagesProcessor(deps: ImagesDeps): Processor<UnitData> {
  return {
    kind: 'images',
    concurrency: deps.concurrency,
    async process(ctx) {
      const { data: unit, log } = ctx
      const requestId = ctx.requestId!
      const images = [...unit.images]
      await deps.store.markStarted(requestId)
      const todo = images.flatMap((image, slot) => (image.status === 'pending' ? [slot] : []))
      if (ctx.resumed) {
        // What the dead run was writing: any output name of the images still to do.
        const names = [undefined, ...(unit.outputs ?? []).map((o) => o.name)]
        const keys = todo.flatMap((slot) =>
          names.flatMap((name) =>
            Object.values(EXTENSIONS).map((ext) => imageKey(requestId, unit.first + slot, ext, name))
          )
        )
        const stale = await deps.storage.removeStale(keys)
        log.info({ todo: todo.length, stale_temp_files: stale }, 'unit taken over')
      }
      const batcher = new ProgressBatcher<number>((slots) => ctx.save(imagesRecorded(images, slots)), {
        maxBatch: 50,
        intervalMs: deps.flushMs,
        onError: (err) => log.warn({ err: (err as Error).message }, 'progress write failed; kept for the next flush')
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
                  {
                    requestId,
                    index: unit.first + slot,
                    url: images[slot]!.url,
                    options: unit.options,
                    ...(unit.outputs && { outputs: unit.outputs })
                  },
                  deps.imageDeps
                )
                images[slot] = record
                observe(deps.metrics, record, unit.outputs)
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
        await batcher.flushUntilWritten()
      } finally {
        batcher.stop()
      }
      if (images.some((i) => i.status === 'pending')) return { kind: 'released' } // shutting down
      await deps.beforeDone?.(requestId, unit.n)
      return { kind: 'done', arrive: unitArrival(requestId, unit.n) }
    },
    async exhausted(ctx, reason) {
      const images = ctx.data.images.map(
        (image): ImageRecord =>
          image.status === 'pending'
            ? { url: image.url, status: 'failed', error: reason, error_kind: 'abandoned' }
            : image
      )
      return {
        kind: 'failed',
        reason,
        record: imagesRecorded(
          images,
          images.map((_, slot) => slot)
        ),
        arrive: unitArrival(ctx.requestId!, ctx.data.n)
      }
    }
  }
}

function observe(metrics: Metrics, record: ImageRecord, outputs: ResolvedOutput[] = []): void {
  metrics.images.inc({ outcome: record.status, reason: record.error_kind ?? '' })
  // Labelled by preset, never by name: names are the customer's, and would make a label of unbounded values.
  const presets = new Map(outputs.map((o) => [o.name, o.preset ?? 'custom']))
  for (const output of record.outputs ?? [])
    metrics.outputs.inc({ preset: presets.get(output.name) ?? 'custom', verdict: output.compliance?.verdict ?? 'none' })
  if (record.download_ms !== undefined) metrics.downloadSeconds.observe(record.download_ms / 1000)
  if (record.status !== 'succeeded') return
  metrics.compressSeconds.observe((record.compress_ms ?? 0) / 1000)
  metrics.bytesIn.inc(record.bytes_in ?? 0)
  metrics.bytesOut.inc(record.bytes_out ?? 0)
}
