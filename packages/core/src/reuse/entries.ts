import type { ImageStats } from '../requests/contracts.ts'
import type { ImageRecord, OutputRecord } from '../requests/records.ts'
import type { ReuseKind } from './decision.ts'

/**
 * One stored content-addressed output, as the output index keeps it: enough to rebuild an image's record without
 * the image, and what making it cost (so a reuse can say what it saved).
 */
export interface OutputEntry {
  /** The storage key, `o/<scope>/<name>.<ext>` (contentKey). */
  key: string
  scope: string
  sha256: string
  spec: string
  /** The output as its record states it, less the labels a request gives it (its name and storage key). */
  output: Omit<OutputRecord, 'name' | 'file'>
  /** The source it was made from. */
  source: { bytes: number; width: number; height: number; format: string }
  kept_original?: boolean
  /** CPU time its making took (an output set's time shared evenly between its outputs). */
  cpu_ms: number
}

/** A processed single-output image's record as an index entry. */
export function entryOfImage(
  key: string,
  scope: string,
  sha256: string,
  spec: string,
  stats: Omit<ImageStats, 'download_ms'>
): OutputEntry {
  return {
    key,
    scope,
    sha256,
    spec,
    output: {
      format: stats.format_out,
      width: stats.width_out,
      height: stats.height_out,
      bytes: stats.bytes_out,
      ...(stats.quality !== undefined && { quality: stats.quality }),
      ...(stats.score !== undefined && { score: stats.score })
    },
    source: { bytes: stats.bytes_in, width: stats.width_in, height: stats.height_in, format: stats.format_in },
    kept_original: stats.kept_original,
    cpu_ms: stats.compress_ms
  }
}

/** One output of a processed set as an index entry. */
export function entryOfOutput(
  scope: string,
  sha256: string,
  spec: string,
  record: OutputRecord,
  source: OutputEntry['source'],
  cpu_ms: number
): OutputEntry {
  const { name: _name, file, ...output } = record
  return { key: file, scope, sha256, spec, output, source, cpu_ms }
}

export interface Reused {
  kind: ReuseKind
  download_ms: number
  /** Bytes the source would have cost to download (a 304 saved them; a same-content body did not). */
  not_downloaded: number
}

/**
 * An image's record rebuilt from its outputs' entries, in the request's order: with `names`, an output set (the
 * first output also fills the image's own fields, as storeOutputSet does); without, the single output.
 */
export function reusedRecord(url: string, entries: OutputEntry[], reused: Reused, names?: string[]): ImageRecord {
  const first = entries[0]!
  const cpu = entries.reduce((sum, e) => sum + e.cpu_ms, 0)
  const outputs: OutputRecord[] | undefined = names?.map((name, i) => ({
    name,
    file: entries[i]!.key,
    ...entries[i]!.output
  }))
  return {
    url,
    status: 'succeeded',
    output_file: first.key,
    bytes_in: first.source.bytes,
    bytes_out: first.output.bytes,
    kept_original: first.kept_original ?? false,
    width_in: first.source.width,
    height_in: first.source.height,
    width_out: first.output.width,
    height_out: first.output.height,
    format_in: first.source.format,
    format_out: first.output.format,
    compress_ms: 0,
    download_ms: reused.download_ms,
    ...(first.output.quality !== undefined && { quality: first.output.quality }),
    ...(first.output.score !== undefined && { score: first.output.score }),
    ...(outputs && { outputs }),
    reused: reused.kind,
    saved: { cpu_ms: cpu, bytes: reused.not_downloaded }
  }
}
