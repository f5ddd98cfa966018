import { type ImageRecord, imageKey, objectMeta, type ProcessingOptions, type ResolvedOutput } from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import { type CompressBounds, compressImage, ImageError } from '../compress/sharp.ts'
import { DownloadError, type DownloadLimits, downloadImage } from '../fetch/download.ts'
import { storeOutputSet } from './output-set.ts'

export interface ImageJob {
  requestId: string
  index: number
  url: string
  options: ProcessingOptions
  /** The request's output set (presets expanded); without it, one output set by `options`. */
  outputs?: ResolvedOutput[]
}

export interface ImageDeps {
  download: DownloadLimits
  maxInputPixels: number
  /** Scans and time an image may cost (MAX_JPEG_SCANS, COMPRESS_TIMEOUT_S); compressImage's defaults otherwise. */
  compressBounds?: CompressBounds
  storage: Storage
  /** Per-host politeness around each download (HostLimiter.run); none by default. */
  hostSlot?: <T>(url: string, work: () => Promise<T>) => Promise<T>
  /** Caps CPU-bound work separately from downloads, so downloads overlap compression without oversubscribing. */
  compressSlot: <T>(work: () => Promise<T>) => Promise<T>
}

/**
 * Download → compress → store one image. Problems with the image or its URL become a failed record with a
 * reason; anything else (storage full, a bug) is thrown, because it is not the customer's image's fault.
 */
export async function processImage(job: ImageJob, deps: ImageDeps): Promise<ImageRecord> {
  const started = performance.now()
  let input: Buffer
  try {
    input = deps.hostSlot
      ? await deps.hostSlot(job.url, () => downloadImage(job.url, deps.download))
      : await downloadImage(job.url, deps.download)
  } catch (err) {
    return { ...failed(job.url, err), download_ms: Math.round(performance.now() - started) }
  }
  const download_ms = Math.round(performance.now() - started)
  try {
    if (job.outputs) return await storeOutputSet({ ...job, outputs: job.outputs }, input, download_ms, deps)
    const result = await deps.compressSlot(() =>
      compressImage(input, job.options, deps.maxInputPixels, deps.compressBounds)
    )
    const key = imageKey(job.requestId, job.index, result.extension)
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
