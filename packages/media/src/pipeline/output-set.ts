import {
  EXTENSIONS,
  type ImageRecord,
  imageKey,
  type OutputRecord,
  objectMeta,
  type ResolvedOutput
} from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import { slotMegapixels } from '../compress/plan.ts'
import { admitInput, type CompressBounds, DEFAULT_COMPRESS_BOUNDS } from '../compress/sharp.ts'
import { makeOutputSet } from '../outputs/derive.ts'
import type { ImageDeps } from './job.ts'

/** What storing a set needs of processImage's job and dependencies (ImageJob, ImageDeps). */
export interface OutputSetJob {
  requestId: string
  index: number
  url: string
  outputs: ResolvedOutput[]
  /** Where output `i` is stored (content-addressed keys, docs/reuse.md); `<request_id>/<index>-<name>.<ext>` otherwise. */
  keyOf?: (i: number, extension: string) => string
}
export interface OutputSetDeps {
  maxInputPixels: number
  compressBounds?: CompressBounds
  storage: Storage
  compressSlot: ImageDeps['compressSlot']
}

/**
 * An image's output set, after its one download: made (outputs/derive.ts), each distinct output stored once
 * under `<index>-<name>.<ext>`, and recorded. The first output also fills the image's own fields (output_file,
 * width_out, bytes_out…), so everything that reads one output per image (totals, the CSV's first column) reads it.
 */
export async function storeOutputSet(
  job: OutputSetJob,
  input: Buffer,
  download_ms: number,
  deps: OutputSetDeps
): Promise<ImageRecord> {
  const bounds = deps.compressBounds ?? DEFAULT_COMPRESS_BOUNDS
  const facts = await admitInput(input, deps.maxInputPixels, bounds)
  // A set holds its decoded pixels while it makes each output.
  const set = await deps.compressSlot(slotMegapixels(facts, true), () =>
    makeOutputSet(input, job.outputs, deps.maxInputPixels, bounds, facts)
  )
  const records: OutputRecord[] = []
  for (const [i, made] of set.outputs.entries()) {
    let file: string
    // Content-addressed outputs each have their own key (their own settings), even when made alike.
    if (made.same === i || job.keyOf) {
      const extension = EXTENSIONS[made.format]
      file = job.keyOf?.(i, extension) ?? imageKey(job.requestId, job.index, extension, made.output.name)
      await deps.storage.put(file, made.data, objectMeta(file)) // 'exists': an earlier holder stored the same output
    } else file = records[made.same]!.file
    records.push({
      name: made.output.name,
      file,
      format: made.format,
      width: made.width,
      height: made.height,
      bytes: made.data.length,
      ...(made.quality !== undefined && { quality: made.quality }),
      ...(made.score !== undefined && { score: made.score }),
      ...(made.compliance && { compliance: made.compliance })
    })
  }
  const first = records[0]!
  return {
    url: job.url,
    status: 'succeeded',
    output_file: first.file,
    bytes_in: input.length,
    bytes_out: first.bytes,
    kept_original: false,
    width_in: set.facts.width,
    height_in: set.facts.height,
    width_out: first.width,
    height_out: first.height,
    format_in: set.facts.format,
    format_out: first.format,
    compress_ms: set.compress_ms,
    download_ms,
    ...(first.quality !== undefined && { quality: first.quality }),
    ...(first.score !== undefined && { score: first.score }),
    outputs: records
  }
}
