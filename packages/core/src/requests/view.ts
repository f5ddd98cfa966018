import type { Counts, ImageRecord, ImageView, ProcessingOptions, ProductRecord, RequestDocument, StatusView, Totals, WebhookEvent } from './schema.ts'
import type { ParsedCsv } from '../csv/input.ts'
import type { OutputRow } from '../csv/output.ts'
import { publicUrl } from '../storage/files.ts'

export function newRequestDocument(id: string, csv: ParsedCsv, options: ProcessingOptions, webhookUrl: string | undefined, now: Date, chunkSize: number): RequestDocument {
  return {
    _id: id,
    request_id: id,
    status: 'Pending',
    created_at: now,
    updated_at: now,
    options,
    ...(webhookUrl ? { webhook_url: webhookUrl } : {}),
    products: csv.products,
    images: csv.urls.map((url) => ({ url, status: 'pending' })),
    chunk_size: chunkSize,
    product_count: csv.products.length,
    counts: initialCounts(csv.urls.length),
    totals: { bytes_in: 0, bytes_out: 0 },
    lease: null,
    claims: 0
  }
}

export function savingsPct(bytesIn: number | undefined, bytesOut: number | undefined): number | null {
  if (!bytesIn || bytesOut === undefined) return null
  return Math.round((1 - bytesOut / bytesIn) * 1000) / 10
}

export function totalsView(doc: Pick<RequestDocument, 'totals'>): Totals {
  const { bytes_in, bytes_out } = doc.totals
  return { bytes_in, bytes_out, savings_pct: savingsPct(bytes_in, bytes_out) }
}

export function outputUrl(baseUrl: string, image: ImageRecord): string | null {
  return image.status === 'succeeded' && image.output_file ? publicUrl(baseUrl, image.output_file) : null
}

function imageView(baseUrl: string, image: ImageRecord): ImageView {
  const { url, status, output_file: _file, error, ...stats } = image
  return { ...stats, input_url: url, status, output_url: outputUrl(baseUrl, image), error: error ?? null, savings_pct: savingsPct(image.bytes_in, image.bytes_out) }
}

/** Counters and byte totals of a request, from its images: what the owner writes with every batch. */
export function tally(images: ImageRecord[]): Pick<RequestDocument, 'counts' | 'totals'> {
  const counts = initialCounts(images.length)
  const totals = { bytes_in: 0, bytes_out: 0 }
  for (const image of images) {
    if (image.status === 'pending') continue
    counts[image.status] += 1
    counts.pending -= 1
    if (image.status === 'succeeded') {
      totals.bytes_in += image.bytes_in ?? 0
      totals.bytes_out += image.bytes_out ?? 0
    }
  }
  return { counts, totals }
}

export interface ProductPage {
  offset: number
  limit: number
  total: number
  products: ProductRecord[]
  images: Map<number, ImageRecord>
}

/** Status as the API shows it: the request's summary plus one page of products with their images. */
export function statusView(doc: RequestDocument, baseUrl: string, page: ProductPage): StatusView {
  const { counts } = doc
  const last = doc.webhook?.attempts.at(-1)
  return {
    request_id: doc.request_id,
    status: doc.status,
    progress_pct: counts.total === 0 ? 100 : Math.floor(((counts.succeeded + counts.failed) / counts.total) * 1000) / 10,
    counts,
    totals: totalsView(doc),
    options: doc.options,
    error: doc.error ?? null,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
    started_at: doc.started_at?.toISOString() ?? null,
    completed_at: doc.completed_at?.toISOString() ?? null,
    output_csv_url: doc.output_csv ?? null,
    webhook: doc.webhook
      ? {
          state: doc.webhook.state,
          event_id: doc.webhook.event_id,
          attempts: doc.webhook.attempts.length,
          last_status_code: last?.status_code ?? null,
          last_error: last?.error ?? null
        }
      : null,
    products: {
      offset: page.offset,
      limit: page.limit,
      total: page.total,
      items: page.products.map((p) => ({
        serial: p.serial,
        name: p.name,
        images: p.image_ids.map((i) => imageView(baseUrl, page.images.get(i)!))
      }))
    }
  }
}

export function outputRows(doc: RequestDocument, baseUrl: string): Iterable<OutputRow> {
  return doc.products.map((p) => ({
    serial: p.serial,
    name: p.name,
    inputUrls: p.image_ids.map((i) => doc.images[i]!.url),
    outputUrls: p.image_ids.map((i) => outputUrl(baseUrl, doc.images[i]!))
  }))
}

export function webhookEvent(doc: RequestDocument, eventId: string): WebhookEvent {
  return {
    event_id: eventId,
    type: 'request.completed',
    request_id: doc.request_id,
    status: doc.status,
    counts: doc.counts,
    totals: totalsView(doc),
    output_csv_url: doc.output_csv ?? null,
    completed_at: (doc.completed_at ?? new Date()).toISOString()
  }
}

export function initialCounts(total: number): Counts {
  return { total, succeeded: 0, failed: 0, pending: total }
}
