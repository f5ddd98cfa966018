import {
  afterAnswer,
  conditionalHeaders,
  contentKey,
  entryOfImage,
  entryOfOutput,
  type ImageRecord,
  type OutputEntry,
  optionsHash,
  outputSpecHash,
  type ReuseKind,
  reusedRecord,
  type SourceWrite,
  sha256Hex,
  validatorsOf
} from '@imgproc/core'
import { isStorageOutage, withPut } from '@imgproc/storage'
import type { SourceAnswer } from '../fetch/download.ts'
import type { ImageDeps, ImageJob, ReuseScope } from './job.ts'
import { download, makeOutputs } from './make.ts'

type ReuseJob = ImageJob & { reuse: ReuseScope }

/**
 * processImage with reuse (docs/reuse.md): a conditional GET when the source's outputs are all stored, a 304
 * reusing them with no download, a body with the same SHA-256 reusing them with no compression, and otherwise
 * outputs made under content-addressed keys and recorded for next time. Any doubt means processing.
 */
export async function processWithReuse(job: ReuseJob, deps: ImageDeps): Promise<ImageRecord> {
  const { index, scope } = job.reuse
  const specs = job.outputs ? job.outputs.map(outputSpecHash) : [optionsHash(job.options)]
  const source = await index.source(scope, job.url)
  const known = source ? await ready(job, deps, specs, source.sha256) : null
  const conditions = conditionalHeaders(source, known !== null)
  let fetched = await download(job.url, deps, conditions)
  if ('failed' in fetched) return fetched.failed
  for (let attempt = 0; ; attempt++) {
    const { answer, download_ms } = fetched
    const sha256 = answer.status === 'ok' ? sha256Hex(answer.body) : undefined
    const entries =
      sha256 === undefined ? known : sha256 === source?.sha256 ? known : await ready(job, deps, specs, sha256)
    const next = afterAnswer(
      sha256 === undefined ? { status: 'not_modified' } : { status: 'ok', sha256 },
      conditions !== undefined && attempt === 0,
      () => entries !== null
    )
    // Referred to when the unit saves this image's record, just before: retention then keeps them as long as this
    // request (docs/reuse.md). If that reference does not hold, the unit makes the image again under its own keys.
    if ('reuse' in next) {
      const seen = answer.status === 'ok' ? remembered(job, answer, sha256!) : undefined
      index.defer(job.index, { refer: entries!.map(keyOf), ...(seen && { source: seen }) })
      return reused(job, entries!, next.reuse, download_ms)
    }
    if (answer.status === 'ok') return made(job, deps, specs, answer, sha256!, download_ms)
    // A 304 again, to the unconditional GET: no bytes, so the image fails to decode, as any empty answer does.
    if (attempt > 0) return makeOutputs(job, Buffer.alloc(0), download_ms, deps)
    // A 304 we did not ask for, the first time: the bytes, once more and unconditionally.
    fetched = await download(job.url, deps)
    if ('failed' in fetched) return fetched.failed
  }
}

const keyOf = (entry: OutputEntry) => entry.key

/** The entries of every output `specs` asks of `sha256`, in order, when all are indexed and stored; else null. */
async function ready(job: ReuseJob, deps: ImageDeps, specs: string[], sha256: string): Promise<OutputEntry[] | null> {
  const found = await job.reuse.index.find(job.reuse.scope, sha256, specs)
  const entries = specs.map((spec) => found.get(spec))
  if (entries.some((e) => e === undefined)) return null
  // A storage that cannot answer is doubt too: the image is made, and its write rides out the outage in place.
  const stat = (key: string) =>
    deps.storage.stat(key).catch((err) => {
      if (isStorageOutage(err)) return null
      throw err
    })
  const stored = await Promise.all(entries.map((e) => stat(e!.key)))
  return stored.every(Boolean) ? (entries as OutputEntry[]) : null
}

function reused(job: ReuseJob, entries: OutputEntry[], kind: ReuseKind, download_ms: number): ImageRecord {
  const not_downloaded = kind === 'not_modified' ? entries[0]!.source.bytes : 0
  return reusedRecord(
    job.url,
    entries,
    { kind, download_ms, not_downloaded },
    job.outputs?.map((o) => o.name)
  )
}

function remembered(job: ReuseJob, answer: SourceAnswer & { status: 'ok' }, sha256: string): SourceWrite {
  return { scope: job.reuse.scope, url: job.url, validators: validatorsOf(answer.headers, sha256) }
}

/**
 * Made under content-addressed keys, to be recorded in the index when the unit saves its record. If retention is
 * removing one of those keys then, the unit makes the image again under the request's own keys: its output must
 * outlive the removal. A key whose object was there already is noted: retention may delete that object before the
 * record is written, which the write then checks.
 */
async function made(
  job: ReuseJob,
  deps: ImageDeps,
  specs: string[],
  answer: SourceAnswer & { status: 'ok' },
  sha256: string,
  download_ms: number
): Promise<ImageRecord> {
  const { index, scope, nameKey } = job.reuse
  const keyOf = (i: number, extension: string) => contentKey(scope, nameKey, sha256, specs[i]!, extension)
  const existed: string[] = []
  const storage = withPut(deps.storage, async (key, body, meta) => {
    const put = await deps.storage.put(key, body, meta)
    if (put === 'exists') existed.push(key)
    return put
  })
  const record = await makeOutputs(job, answer.body, download_ms, { ...deps, storage }, keyOf)
  if (record.status !== 'succeeded') return record
  const entries = record.outputs
    ? record.outputs.map((o, i) =>
        entryOfOutput(
          scope,
          sha256,
          specs[i]!,
          o,
          { bytes: record.bytes_in!, width: record.width_in!, height: record.height_in!, format: record.format_in! },
          Math.round((record.compress_ms ?? 0) / record.outputs!.length)
        )
      )
    : [entryOfImage(record.output_file!, scope, sha256, specs[0]!, { ...stats(record) })]
  index.defer(job.index, {
    record: entries,
    ...(existed.length > 0 && { existed }),
    source: remembered(job, answer, sha256)
  })
  return record
}

function stats(record: ImageRecord) {
  return {
    bytes_in: record.bytes_in!,
    bytes_out: record.bytes_out!,
    kept_original: record.kept_original!,
    width_in: record.width_in!,
    height_in: record.height_in!,
    width_out: record.width_out!,
    height_out: record.height_out!,
    format_in: record.format_in!,
    format_out: record.format_out!,
    compress_ms: record.compress_ms!,
    ...(record.score !== undefined && { score: record.score }),
    ...(record.quality !== undefined && { quality: record.quality })
  }
}
