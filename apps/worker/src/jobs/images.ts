import {
  EXTENSIONS,
  type ImageRecord,
  imageKey,
  imagesRecorded,
  type Metrics,
  optionsHash,
  outputNameKey,
  outputSpecHash,
  possibleImageKeys,
  type RequestStore,
  type ResolvedOutput,
  type ReuseIndex,
  redactUrl,
  tenantScope,
  type UnitData,
  type UnitReuse,
  unitArrival
} from '@imgproc/core'
import { type ImageDeps, processImage, type ReuseScope } from '@imgproc/media'
import {
  isStorageOutage,
  retryingPuts,
  type Storage,
  StorageError,
  type StorageFailing,
  withPut
} from '@imgproc/storage'
import pLimit, { type LimitFunction } from 'p-limit'
import { ProgressBatcher } from '../progress-batcher.ts'
import type { Processor } from './contract.ts'

export interface ImagesDeps {
  store: RequestStore
  imageDeps: ImageDeps
  /** Worker-wide cap on images in flight (downloading or compressing), shared by every unit it holds. */
  inflight: LimitFunction
  storage: Storage
  /** How long one image's storage write rides out an outage in place before the unit is handed back (0: not). */
  storageRetryMs?: number
  /**
   * How the worker's storage is failing, if it is (StorageHealth): no download starts then, except one image
   * after a write check at the start of a run, to find out whether it works again.
   */
  storageFailing?: () => StorageFailing | null
  flushMs: number
  concurrency: number
  metrics: Metrics
  /** The reuse index and the secret tenant scopes derive from (docs/reuse.md); without it, nothing is reused. */
  reuse?: { index: ReuseIndex; secret: string }
  /** A pause once every image is recorded, before the unit arrives at its finisher (race tests; none otherwise). */
  beforeDone?: (requestId: string, n: number) => Promise<void>
}

/**
 * A work unit: some of one request's distinct images. Images an earlier run recorded are skipped, and so are
 * those it stored without recording (found by their output keys); finished ones are written in batches, each
 * batch with the unit's counters in the same write. A storage outage hands the unit back, but only after what it
 * finished is written, so no later run downloads those again. When every image is recorded the unit arrives at the
 * request's finisher.
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
      const reuse = await reuseScope(deps, requestId, unit)
      let todo = images.flatMap((image, slot) => (image.status === 'pending' ? [slot] : []))
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
      // Images the reuse index refused at a flush: made again under the request's own keys, then saved in turn.
      // A remake starts inside a flush, maybe a background one: its outcome is kept from the start (a failure is
      // never an unhandled rejection), and the run does not end before every remake has.
      const remaking = new Set<number>()
      const remakes: Promise<PromiseSettledResult<void>>[] = []
      // The records as saved, which the unit's tally counts: a record not saved yet may still be refused.
      const saved = [...unit.images]
      // Finished here, not yet saved: an image counts in the metrics once its record is saved, not when refused.
      const unobserved = new Set<number>()
      const save = async (batch: number[]) => {
        const slots = [...new Set(batch)].filter((slot) => !remaking.has(slot))
        // The batch's index writes land before its records: retention relies on that order (docs/reuse.md). The job
        // is confirmed this run's first, so a run taken over writes nothing, not even to the index.
        if (reuse && slots.length > 0) await ctx.save()
        const refused = reuse ? await reuse.index.flush(slots.map((slot) => unit.first + slot)) : new Set<number>()
        for (const slot of slots.filter((slot) => refused.has(unit.first + slot))) {
          const image = unit.images[slot]!
          images[slot] = { ...image, downloads: (image.downloads ?? 0) + 1 } // the remake's is a re-download
          unobserved.delete(slot)
          remaking.add(slot)
          remakes.push(Promise.allSettled([runImage(slot, { ownKeys: true })]).then(([outcome]) => outcome!))
        }
        const kept = slots.filter((slot) => !remaking.has(slot))
        for (const slot of kept) saved[slot] = images[slot]!
        await ctx.save(imagesRecorded(saved, kept))
        for (const slot of kept) if (unobserved.delete(slot)) observe(deps.metrics, images[slot]!, unit.outputs)
      }
      const batcher = new ProgressBatcher<number>(save, {
        maxBatch: 50,
        intervalMs: deps.flushMs,
        onError: (err) => log.warn({ err: (err as Error).message }, 'progress write failed; kept for the next flush')
      })
      // The first storage outage (or bug) stops this unit from starting more images; those under way wait for the
      // storage in place (up to storageRetryMs) rather than throw away their download.
      const failed = new AbortController()
      // The run is ending (taken over, cancelled, or an error thrown): a remake still under way writes nothing.
      const ending = new AbortController()
      const stop = AbortSignal.any([ctx.signal, failed.signal, ending.signal])
      const imageDeps: ImageDeps = {
        ...deps.imageDeps,
        storage: retryingPuts(deps.imageDeps.storage, { waitMs: deps.storageRetryMs ?? 0, signal: ctx.signal })
      }
      // A remake may still run when the unit stops: it checks before it stores, and the image stays to do.
      const remakeDeps: ImageDeps = {
        ...imageDeps,
        storage: withPut(imageDeps.storage, (key, body, meta) => {
          stop.throwIfAborted()
          return imageDeps.storage.put(key, body, meta)
        })
      }
      const runImage = (slot: number, { canary = false, ownKeys = false } = {}) =>
        deps.inflight(async () => {
          if (stop.aborted) return
          const outage = canary ? null : deps.storageFailing?.()
          if (outage) {
            failed.abort() // no download while the storage cannot take its result
            throw new StorageError(outage.kind, outage.reason)
          }
          const downloads = images[slot]!.downloads ?? 0
          if (downloads > 0) deps.metrics.imageRedownloads.inc()
          let record: ImageRecord
          try {
            record = await processImage(
              {
                requestId,
                index: unit.first + slot,
                url: images[slot]!.url,
                options: unit.options,
                ...(unit.outputs && { outputs: unit.outputs }),
                ...(reuse && !ownKeys && { reuse })
              },
              ownKeys ? remakeDeps : imageDeps
            )
          } catch (err) {
            remaking.delete(slot)
            if (ownKeys && stop.aborted && !isStorageOutage(err)) return // stopped before its put: still to do
            failed.abort()
            // Storing is the last step: the image was downloaded, and its next download is a re-download.
            if (isStorageOutage(err)) {
              images[slot] = { ...images[slot]!, downloads: downloads + 1 }
              batcher.add(slot)
            }
            throw err
          }
          remaking.delete(slot)
          images[slot] = record
          unobserved.add(slot)
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
      let interrupted: { err: unknown } | null = null
      try {
        if (ctx.rerun && !unit.outputs) {
          // An earlier run may have stored outputs whose records it could not write (it died, lost its lease, or
          // the database was away): those are recorded from the storage, not downloaded again. (An output set's
          // records hold each output's size and verdict, which the storage does not keep: those are made again.)
          const found = await storedOutputs(deps.storage, requestId, unit, todo)
          for (const [slot, record] of found) {
            images[slot] = record
            batcher.add(slot)
          }
          if (found.size > 0) log.info({ found: found.size }, 'outputs already stored; recorded without downloading')
          deps.metrics.outputsFound.inc(found.size)
          todo = todo.filter((slot) => !found.has(slot))
        }
        // The storage was failing when this run began: it must take a write, and then one image, before the
        // others are downloaded; a long outage then costs no download per retry.
        const canary = Boolean(deps.storageFailing?.()) && todo.length > 0
        const first = canary
          ? deps.storage.check({ write: true }).then(
              () => runImage(todo[0]!, { canary: true }),
              (err) => {
                failed.abort()
                throw err
              }
            )
          : Promise.resolve()
        const runs = [...(await Promise.allSettled([first]))]
        runs.push(...(await Promise.allSettled((canary ? todo.slice(1) : todo).map((slot) => runImage(slot)))))
        // Also when interrupted: what finished is written before the unit is handed back.
        await batcher.flushUntilWritten()
        while (remakes.length > 0) {
          runs.push(...(await Promise.all(remakes.splice(0))))
          await batcher.flushUntilWritten()
        }
        const rejected = runs.find((r) => r.status === 'rejected')
        if (rejected) interrupted = { err: rejected.reason }
      } finally {
        ending.abort()
        batcher.stop()
        await Promise.all(remakes.splice(0))
      }
      if (interrupted) throw interrupted.err
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

/** The request's tenant scope in the reuse index, unless reuse is off for it (reuse=false) or for the worker. */
async function reuseScope(
  deps: ImagesDeps,
  requestId: string,
  unit: UnitData
): Promise<(ReuseScope & { index: UnitReuse }) | undefined> {
  if (!deps.reuse) return undefined
  const doc = await deps.store.find(requestId)
  if (!doc || doc.reuse === false) return undefined
  const scope = tenantScope(deps.reuse.secret, doc.owner)
  const specs = unit.outputs ? unit.outputs.map(outputSpecHash) : [optionsHash(unit.options)]
  const urls = unit.images.flatMap((image) => (image.status === 'pending' ? [image.url] : []))
  const nameKey = outputNameKey(deps.reuse.secret, doc.owner)
  // A storage that cannot say refuses the output: the image is made again, and meets the outage the usual way.
  const stored = (key: string) =>
    deps.storage.stat(key).then(
      (info) => info !== null,
      (err) => {
        if (isStorageOutage(err)) return false
        throw err
      }
    )
  return { index: await deps.reuse.index.forUnit(scope, urls, specs, stored), scope, nameKey }
}

/** Records of the `slots` whose output is already stored, by slot, found by the keys it can have. */
async function storedOutputs(
  storage: Storage,
  requestId: string,
  unit: UnitData,
  slots: number[]
): Promise<Map<number, ImageRecord>> {
  const found = new Map<number, ImageRecord>()
  const limit = pLimit(8)
  await Promise.all(
    slots.map((slot) =>
      limit(async () => {
        for (const { key, format } of possibleImageKeys(requestId, unit.first + slot, unit.options.format)) {
          if (!(await storage.stat(key))) continue
          // The stats of its compression went with the run that stored it; the output itself is all that counts.
          found.set(slot, { url: unit.images[slot]!.url, status: 'succeeded', output_file: key, format_out: format })
          return
        }
      })
    )
  )
  return found
}

function observe(metrics: Metrics, record: ImageRecord, outputs: ResolvedOutput[] = []): void {
  metrics.images.inc({ outcome: record.status, reason: record.error_kind ?? '' })
  // Labelled by preset, never by name: names are the customer's, and would make a label of unbounded values.
  const presets = new Map(outputs.map((o) => [o.name, o.preset ?? 'custom']))
  for (const output of record.outputs ?? [])
    metrics.outputs.inc({ preset: presets.get(output.name) ?? 'custom', verdict: output.compliance?.verdict ?? 'none' })
  if (record.download_ms !== undefined) metrics.downloadSeconds.observe(record.download_ms / 1000)
  if (record.status !== 'succeeded') return
  if (record.reused) {
    metrics.imagesReused.inc({ how: record.reused })
    metrics.reuseBytesNotDownloaded.inc(record.saved?.bytes ?? 0)
    metrics.reuseCpuSecondsSaved.inc((record.saved?.cpu_ms ?? 0) / 1000)
    return // nothing was compressed or written
  }
  metrics.compressSeconds.observe((record.compress_ms ?? 0) / 1000)
  metrics.bytesIn.inc(record.bytes_in ?? 0)
  metrics.bytesOut.inc(record.bytes_out ?? 0)
}
