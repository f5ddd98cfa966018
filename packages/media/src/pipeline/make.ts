import { type ImageRecord, imageKey, objectMeta } from '@imgproc/core'
import { planCompression, slotMegapixels } from '../compress/plan.ts'
import { admitInput, compressImage, DEFAULT_COMPRESS_BOUNDS, ImageError } from '../compress/sharp.ts'
import { DownloadError, fetchSource, type SourceAnswer } from '../fetch/download.ts'
import type { ImageDeps, ImageJob } from './job.ts'
import { storeOutputSet } from './output-set.ts'

/** One download, timed; a failed record when the image or its URL is at fault. */
export async function download(
  url: string,
  deps: ImageDeps,
  conditions?: Record<string, string>
): Promise<{ answer: SourceAnswer; download_ms: number } | { failed: ImageRecord }> {
  const started = performance.now()
  try {
    const get = () => fetchSource(url, deps.download, conditions)
    const answer = deps.hostSlot ? await deps.hostSlot(url, get) : await get()
    return { answer, download_ms: Math.round(performance.now() - started) }
  } catch (err) {
    return { failed: { ...failed(url, err), download_ms: Math.round(performance.now() - started) } }
  }
}

/**
 * Compress → store: the output (or output set) made from `input`. `keyOf` names where output `i` goes
 * (content-addressed keys); the request's own `<request_id>/<index>[-<name>].<ext>` otherwise.
 */
export async function makeOutputs(
  job: ImageJob,
  input: Buffer,
  download_ms: number,
  deps: ImageDeps,
  keyOf?: (i: number, extension: string) => string
): Promise<ImageRecord> {
  try {
    if (job.outputs)
      return await storeOutputSet({ ...job, outputs: job.outputs, ...(keyOf && { keyOf }) }, input, download_ms, deps)
    const bounds = deps.compressBounds ?? DEFAULT_COMPRESS_BOUNDS
    // The header first: the slot's weight is the image's megapixels, and an image refused there takes no slot.
    const facts = await admitInput(input, deps.maxInputPixels, bounds)
    const searches = planCompression(facts, job.options).auto !== null
    const result = await deps.compressSlot(slotMegapixels(facts, searches), () =>
      compressImage(input, job.options, deps.maxInputPixels, bounds, facts)
    )
    const key = keyOf?.(0, result.extension) ?? imageKey(job.requestId, job.index, result.extension)
    await deps.storage.put(key, result.data, objectMeta(key)) // 'exists': an earlier holder stored the same output
    return { url: job.url, status: 'succeeded', output_file: key, ...result.stats, download_ms }
  } catch (err) {
    if (err instanceof ImageError) return { ...failed(job.url, err), bytes_in: input.length, download_ms }
    throw err
  }
}

function failed(url: string, err: unknown): ImageRecord {
  if (err instanceof DownloadError || err instanceof ImageError)
    return { url, status: 'failed', error: err.message, error_kind: err.kind }
  throw err
}
