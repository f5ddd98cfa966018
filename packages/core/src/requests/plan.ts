import type { ParsedCsv } from '../csv/input.ts'
import type { ResolvedOutput } from '../output-sets/spec.ts'
import type { OutputCounts, ProcessingOptions } from './contracts.ts'
import type { ImageRecord, ProductPageDocument, ProductRecord, RequestDocument, Tally, UnitData } from './records.ts'

/**
 * How an accepted CSV becomes work: one request document, its product rows in pages, its distinct images split
 * into work units of `unitSize` (each claimed on its own, so every live worker helps with one big request), and
 * one finishing job that waits for every unit.
 */
export const PRODUCTS_PER_PAGE = 500

export interface RequestPlan {
  request: RequestDocument
  productPages: ProductPageDocument[]
  units: UnitData[]
}

export function emptyTally(): Tally {
  return { succeeded: 0, failed: 0, bytes_in: 0, bytes_out: 0, scored: 0, score_sum: 0, score_min: null }
}

function addScore(t: Tally, score: number): void {
  t.scored = (t.scored ?? 0) + 1
  t.score_sum = (t.score_sum ?? 0) + score
  t.score_min = t.score_min == null ? score : Math.min(t.score_min, score)
}

export function planRequest(
  id: string,
  csv: ParsedCsv,
  options: ProcessingOptions,
  webhookUrl: string | undefined,
  now: Date,
  unitSize: number,
  outputs?: ResolvedOutput[]
): RequestPlan {
  const batches = new RequestBatches(id, unitSize, { options, ...(outputs && { outputs }) })
  batches.addImages(csv.urls)
  for (const product of csv.products) batches.addProduct(product)
  const { productPages, units } = batches.take(true)
  const request = requestDocument(id, { options, outputs, webhookUrl, now, unitSize }, batches)
  return { request, productPages, units }
}

/** What a request's work units are told to make: its options and output set. */
export type UnitFields = Pick<UnitData, 'options' | 'outputs'>

/** The request document of a request of `counts.products` rows and `counts.images` distinct images, Pending. */
export function requestDocument(
  id: string,
  made: { options: ProcessingOptions; outputs?: ResolvedOutput[]; webhookUrl?: string; now: Date; unitSize: number },
  counts: { products: number; images: number; units: number }
): RequestDocument {
  const { options, outputs, webhookUrl, now, unitSize } = made
  return {
    request_id: id,
    status: 'Pending',
    created_at: now,
    updated_at: now,
    options,
    ...(outputs && { outputs }),
    ...(webhookUrl ? { webhook_url: webhookUrl } : {}),
    product_count: counts.products,
    units: counts.units,
    unit_size: unitSize,
    images: { total: counts.images, succeeded: 0, failed: 0, pending: counts.images, bytes_in: 0, bytes_out: 0 }
  }
}

/**
 * A request's documents as its rows arrive: product rows fill pages of PRODUCTS_PER_PAGE, distinct images (in
 * first-seen order) fill work units of `unitSize`, and each full page or unit waits in `take` to be written, so
 * what is held is one batch whatever the request's size.
 */
export class RequestBatches {
  products = 0
  images = 0
  units = 0
  /** Characters of URLs and rows waiting in full pages and units: the caller writes them out past a budget. */
  waitingChars = 0
  private pages = 0
  private page: ProductRecord[] = []
  private unit: string[] = []
  private readonly readyPages: ProductPageDocument[] = []
  private readonly readyUnits: UnitData[] = []

  constructor(
    readonly requestId: string,
    readonly unitSize: number,
    private readonly fields: UnitFields
  ) {}

  /** The next distinct images, in order. */
  addImages(urls: readonly string[]): void {
    for (const url of urls) {
      this.unit.push(url)
      this.images += 1
      this.waitingChars += url.length
      if (this.unit.length === this.unitSize) this.closeUnit()
    }
  }

  addProduct(product: ProductRecord): void {
    this.page.push(product)
    this.products += 1
    this.waitingChars += product.name.length + 8 * product.image_ids.length + 24
    if (this.page.length === PRODUCTS_PER_PAGE) this.closePage()
  }

  /** The full pages and units since the last take; with `last`, the partial ones too (the file ended). */
  take(last = false): Pick<RequestPlan, 'productPages' | 'units'> {
    if (last && this.page.length > 0) this.closePage()
    if (last && this.unit.length > 0) this.closeUnit()
    const taken = { productPages: this.readyPages.splice(0), units: this.readyUnits.splice(0) }
    this.waitingChars = this.page.length * 40 + this.unit.reduce((sum, url) => sum + url.length, 0)
    return taken
  }

  private closePage(): void {
    this.readyPages.push({ request_id: this.requestId, n: this.pages++, products: this.page })
    this.page = []
  }

  private closeUnit(): void {
    const first = this.units * this.unitSize
    this.readyUnits.push({
      n: this.units++,
      first,
      ...this.fields,
      images: this.unit.map((url) => ({ url, status: 'pending' })),
      tally: emptyTally()
    })
    this.unit = []
  }
}

/** Work units a request should stay under, so a status read of a running request sums few counters. */
export const UNITS_PER_REQUEST = 2000
/** The fewest bytes a CSV can spend on one image URL: "http://a.b" and a comma. */
const MIN_BYTES_PER_IMAGE = 11

/**
 * The unit size of a request whose upload is `uploadBytes` long (before its rows are read): WORK_UNIT_SIZE, or
 * more when even the most images those bytes can list would make more than UNITS_PER_REQUEST units; at most
 * `max`. Unknown length (a chunked body): WORK_UNIT_SIZE.
 */
export function unitSizeFor(uploadBytes: number | undefined, workUnitSize: number, max = 1000): number {
  if (!uploadBytes || !Number.isFinite(uploadBytes)) return workUnitSize
  const mostImages = Math.ceil(uploadBytes / MIN_BYTES_PER_IMAGE)
  return Math.max(workUnitSize, Math.min(max, Math.ceil(mostImages / UNITS_PER_REQUEST)))
}

/** Which unit holds image `index`, and its slot there. */
export function unitOf(index: number, unitSize: number): { n: number; slot: number } {
  return { n: Math.floor(index / unitSize), slot: index % unitSize }
}

/** Page numbers holding product rows [offset, offset + limit). */
export function productPagesFor(offset: number, limit: number, total: number): number[] {
  const end = Math.min(total, offset + limit)
  if (end <= offset) return []
  const first = Math.floor(offset / PRODUCTS_PER_PAGE)
  const last = Math.floor((end - 1) / PRODUCTS_PER_PAGE)
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
}

/** The counters of output `name` in `t`, made at zero the first time. */
function outputCounts(t: Tally, name: string): OutputCounts {
  t.outputs ??= {}
  t.outputs[name] ??= { delivered: 0, pass: 0, fixed: 0, fail: 0 }
  return t.outputs[name]
}

/** Counters and byte sums of a set of image records. */
export function tally(images: Iterable<ImageRecord>): Tally {
  const out = emptyTally()
  for (const image of images) {
    if (image.status === 'succeeded') {
      out.succeeded += 1
      out.bytes_in += image.bytes_in ?? 0
      out.bytes_out += image.bytes_out ?? 0
      if (typeof image.score === 'number') addScore(out, image.score)
      if (image.reused) {
        out.reused = (out.reused ?? 0) + 1
        out.bytes_not_downloaded = (out.bytes_not_downloaded ?? 0) + (image.saved?.bytes ?? 0)
        out.cpu_ms_saved = (out.cpu_ms_saved ?? 0) + (image.saved?.cpu_ms ?? 0)
      }
      for (const output of image.outputs ?? []) {
        const counts = outputCounts(out, output.name)
        counts.delivered += 1
        if (output.compliance) counts[output.compliance.verdict] += 1
      }
    } else if (image.status === 'failed') out.failed += 1
  }
  return out
}

export function addTallies(tallies: Iterable<Tally>): Tally {
  const out = emptyTally()
  for (const t of tallies) {
    out.succeeded += t.succeeded
    out.failed += t.failed
    out.bytes_in += t.bytes_in
    out.bytes_out += t.bytes_out
    out.scored! += t.scored ?? 0
    out.score_sum! += t.score_sum ?? 0
    if (t.reused) {
      out.reused = (out.reused ?? 0) + t.reused
      out.bytes_not_downloaded = (out.bytes_not_downloaded ?? 0) + (t.bytes_not_downloaded ?? 0)
      out.cpu_ms_saved = (out.cpu_ms_saved ?? 0) + (t.cpu_ms_saved ?? 0)
    }
    if (t.score_min != null) out.score_min = out.score_min == null ? t.score_min : Math.min(out.score_min, t.score_min)
    for (const [name, counts] of Object.entries(t.outputs ?? {})) {
      const sum = outputCounts(out, name)
      sum.delivered += counts.delivered
      sum.pass += counts.pass
      sum.fixed += counts.fixed
      sum.fail += counts.fail
    }
  }
  return out
}

/** The request's `images` summary from its total and the units' counters. */
export function imagesSummary(total: number, t: Tally): RequestDocument['images'] {
  const { succeeded, failed, ...sums } = t
  return { total, succeeded, failed, pending: total - succeeded - failed, ...sums }
}
