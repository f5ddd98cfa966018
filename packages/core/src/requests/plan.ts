import type { ParsedCsv } from '../csv/input.ts'
import type { ResolvedOutput } from '../output-sets/spec.ts'
import type { OutputCounts, ProcessingOptions } from './contracts.ts'
import type { ImageRecord, ProductPageDocument, RequestDocument, Tally, UnitData } from './records.ts'

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
  const units: UnitData[] = []
  for (let first = 0; first < csv.urls.length; first += unitSize) {
    const urls = csv.urls.slice(first, first + unitSize)
    units.push({
      n: units.length,
      first,
      options,
      ...(outputs && { outputs }),
      images: urls.map((url) => ({ url, status: 'pending' })),
      tally: emptyTally()
    })
  }
  const productPages: ProductPageDocument[] = []
  for (let start = 0; start < csv.products.length; start += PRODUCTS_PER_PAGE) {
    productPages.push({
      request_id: id,
      n: productPages.length,
      products: csv.products.slice(start, start + PRODUCTS_PER_PAGE)
    })
  }
  const request: RequestDocument = {
    request_id: id,
    status: 'Pending',
    created_at: now,
    updated_at: now,
    options,
    ...(outputs && { outputs }),
    ...(webhookUrl ? { webhook_url: webhookUrl } : {}),
    product_count: csv.products.length,
    units: units.length,
    unit_size: unitSize,
    images: { total: csv.urls.length, succeeded: 0, failed: 0, pending: csv.urls.length, bytes_in: 0, bytes_out: 0 }
  }
  return { request, productPages, units }
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
