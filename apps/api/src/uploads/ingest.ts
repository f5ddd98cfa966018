import { randomUUID } from 'node:crypto'
import {
  CsvDecoder,
  type CsvRowError,
  type CsvRules,
  DEFAULT_OPTIONS,
  InputRows,
  MalformedCsv,
  RequestBatches,
  type RequestStore,
  readRecords,
  requestDocument,
  type StagedCreation
} from '@imgproc/core'
import type { Foreground } from './foreground.ts'

/**
 * Characters of rows (URLs, names) gathered before they are written as one batch: big enough that the database
 * sees few inserts, small enough that the API's memory stays flat whatever the file's size and that encoding one
 * (the driver does it in one go) holds up other requests for a few milliseconds, not tens.
 */
const BATCH_CHARS = 256 * 1024
/**
 * Records buffered by the parser are handed over without a turn of the event loop in between: past this much
 * work in one go, the ingest gives way to other requests (a status read) before it goes on.
 */
const SLICE_MS = 5
/**
 * The longest the ingest waits, each time it gives way, for the other requests in flight to end: a status read
 * takes a few milliseconds. Under an endless stream of reads the ingest still runs a slice in every five.
 */
const GIVE_WAY_MS = 4 * SLICE_MS

/** What reading an uploaded CSV came to. */
export type Ingested =
  | { ok: true; creation: StagedCreation; products: number; images: number; units: number; unitSize: number }
  /** The whole-file rules failed: `errors` (capped) of `problems`; nothing is stored. */
  | { ok: false; invalid: { errors: CsvRowError[]; problems: number } }
  /** Not UTF-8 text: why; nothing is stored. */
  | { ok: false; undecodable: string }

/**
 * Reads an uploaded CSV as it arrives: each record is decoded, parsed and checked against the whole-file rules,
 * and valid rows are written in batches (product pages and held work units) under a staged request, so memory
 * does not grow with the file and a slow database slows the upload (backpressure). Once any problem is found the
 * staged writes are removed and the rest of the file is only checked, to list its problems. On success the
 * request is staged, not yet visible: the caller commits it (or discards it) once the rest of the form is read.
 */
export async function ingestCsv(
  file: AsyncIterable<Buffer>,
  deps: {
    store: RequestStore
    rules: CsvRules
    unitSize: number
    /** A staged request not written to for this long is written to anyway, so the sweep knows it lives on. */
    keepAliveMs: number
    /** The API's other requests, which go first (a batch insert or a slice of parsing waits for them). */
    foreground: Pick<Foreground, 'giveWay'>
  }
): Promise<Ingested> {
  const { store, rules, unitSize, keepAliveMs, foreground } = deps
  const id = randomUUID()
  const rows = new InputRows(rules)
  // Units are written with the default options: the form's fields may come after the file; the commit sets them.
  const batches = new RequestBatches(id, unitSize, { options: DEFAULT_OPTIONS })
  const decoder = new CsvDecoder()
  let creation: StagedCreation | null = null
  /** The batch being written while the next one is read: its failure, once it ended. */
  let writing: Promise<unknown> | null = null
  let lastWrite = Date.now()

  const written = async () => {
    const failure = await writing
    writing = null
    if (failure) throw failure
  }
  const flush = async (last: boolean) => {
    await written()
    await foreground.giveWay(GIVE_WAY_MS)
    lastWrite = Date.now()
    const batch = batches.take(last)
    creation ??= await store.stage(
      requestDocument(id, { options: DEFAULT_OPTIONS, now: new Date(), unitSize }, batches)
    )
    const staged = creation
    writing = staged.write(batch).then(
      () => null,
      (err: unknown) => err
    )
    if (last) await written()
  }
  /** Valid so far: anything else means nothing more is written, and what was written goes. */
  const writable = () => rows.problems === 0 && rows.images <= rules.maxImages
  const discard = async () => {
    await writing?.catch(() => undefined)
    writing = null
    batches.take(true)
    await creation?.discard()
    creation = null
  }

  // Read by hand, not for-await: a parser that stops early must not destroy the upload, which is read to its end
  // (the form goes on after it) even once the file is known to be refused.
  const chunks = file[Symbol.asyncIterator]()
  async function* text() {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      if (!decoder.problem) yield decoder.write(next.value)
    }
    yield decoder.end()
  }

  try {
    try {
      let sliceStart = performance.now()
      for await (const { cells, row } of readRecords(text())) {
        if (performance.now() - sliceStart > SLICE_MS) {
          await foreground.giveWay(GIVE_WAY_MS)
          sliceStart = performance.now()
        }
        const accepted = rows.accept(cells, row)
        if (!writable()) {
          if (creation || writing) await discard()
          continue
        }
        if (!accepted) continue
        batches.addImages(accepted.newUrls)
        batches.addProduct(accepted.product)
        if (batches.waitingChars > BATCH_CHARS || (creation && Date.now() - lastWrite > keepAliveMs)) await flush(false)
      }
    } catch (err) {
      if (!(err instanceof MalformedCsv)) throw err
      rows.fail(err.error)
      while (!(await chunks.next()).done) {}
    }
    if (decoder.problem) {
      await discard()
      return { ok: false, undecodable: decoder.problem }
    }
    const errors = rows.finish()
    if (errors.length > 0) {
      await discard()
      return { ok: false, invalid: { errors, problems: rows.problems } }
    }
    await flush(true)
    const { products, images, units } = batches
    return { ok: true, creation: creation!, products, images, units, unitSize }
  } catch (err) {
    await discard().catch(() => undefined) // the sweep removes whatever this could not
    throw err
  }
}
