import type { ProcessingOptions, ResolvedOutput, ReuseLookups } from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import type { CompressBounds } from '../compress/sharp.ts'
import type { DownloadLimits } from '../fetch/download.ts'

/** One image of a work unit, and what processing it needs (processImage). */
export interface ImageJob {
  requestId: string
  index: number
  url: string
  options: ProcessingOptions
  /** The request's output set (presets expanded); without it, one output set by `options`. */
  outputs?: ResolvedOutput[]
  /** The tenant's reuse index and scope (docs/reuse.md); without it (reuse=false), outputs are the request's own. */
  reuse?: ReuseScope
}

export interface ImageDeps {
  download: DownloadLimits
  maxInputPixels: number
  /** Scans and time an image may cost (MAX_JPEG_SCANS, COMPRESS_TIMEOUT_S); compressImage's defaults otherwise. */
  compressBounds?: CompressBounds
  storage: Storage
  /** Per-host politeness around each download (HostLimiter.run); none by default. */
  hostSlot?: <T>(url: string, work: () => Promise<T>) => Promise<T>
  /**
   * Caps CPU-bound work separately from downloads, so downloads overlap compression without oversubscribing. It
   * is told the image's megapixels (read from its header), which its memory scales with.
   */
  compressSlot: <T>(megapixels: number, work: () => Promise<T>) => Promise<T>
}

/** What reuse needs of the reuse index (core's ReuseIndex), and the tenant it works for. */
export interface ReuseScope {
  index: ReuseLookups
  /** tenantScope(WEBHOOK_SECRET, the request's owner): in every key and every lookup. */
  scope: string
  /** outputNameKey(WEBHOOK_SECRET, the request's owner): keys the output file names, never handed out. */
  nameKey: string
}
