import type { OutputRow } from '../csv/output.ts'
import { deliveryUrl } from '../outputs/files.ts'
import { signOutputUrl, type UrlSigning } from '../outputs/signed-urls.ts'
import type { Counts, ImageView, OutputView, StatusView, Totals, WebhookEvent, WebhookEventType } from './contracts.ts'
import type {
  DeliveryData,
  EventSource,
  ImageRecord,
  OutputRecord,
  ProductRecord,
  RequestDocument,
  VisibleRequest
} from './records.ts'

/** Where handed-out URLs point (the API, or STORAGE_PUBLIC_URL for images) and whether API links are signed. */
export type LinkSettings = UrlSigning & { PUBLIC_BASE_URL: string; STORAGE_PUBLIC_URL: string }
/** LinkSettings, and how long the links inside an output CSV stay valid. */
export type UrlSettings = LinkSettings & { OUTPUT_CSV_URL_TTL_S: number }

/** A URL as handed out: links through the API are signed when OUTPUT_URL_TTL_S is set; CDN links are not ours to sign. */
export function handOut(urls: LinkSettings, url: string): string {
  if (!url.startsWith(`${urls.PUBLIC_BASE_URL}/`)) return url
  // The signature covers the route's own path (outputPath), whatever prefix PUBLIC_BASE_URL carries.
  return signOutputUrl(url, url.slice(urls.PUBLIC_BASE_URL.length), urls)
}

/**
 * The output CSV is a file the customer keeps (and often imports elsewhere), written once: its image links are
 * signed for OUTPUT_CSV_URL_TTL_S, not for the minutes a status link lives. docs/security.md says why.
 */
function csvLinks(urls: UrlSettings): LinkSettings {
  return urls.OUTPUT_URL_TTL_S > 0 ? { ...urls, OUTPUT_URL_TTL_S: urls.OUTPUT_CSV_URL_TTL_S } : urls
}

export function savingsPct(bytesIn: number | undefined, bytesOut: number | undefined): number | null {
  if (!bytesIn || bytesOut === undefined) return null
  return Math.round((1 - bytesOut / bytesIn) * 1000) / 10
}

export function countsOf(images: RequestDocument['images']): Counts {
  return {
    total: images.total,
    succeeded: images.succeeded,
    failed: images.failed,
    pending: images.pending,
    reused: images.reused ?? 0
  }
}

export function totalsView(images: RequestDocument['images']): Totals {
  const scored = images.scored ?? 0
  return {
    bytes_in: images.bytes_in,
    bytes_out: images.bytes_out,
    savings_pct: savingsPct(images.bytes_in, images.bytes_out),
    score_mean: scored > 0 ? Math.round(((images.score_sum ?? 0) / scored) * 100) / 100 : null,
    score_min: scored > 0 ? (images.score_min ?? null) : null,
    bytes_not_downloaded: images.bytes_not_downloaded ?? 0,
    cpu_ms_saved: images.cpu_ms_saved ?? 0,
    ...(images.outputs && { outputs: images.outputs })
  }
}

export function outputUrl(urls: LinkSettings, image: ImageRecord): string | null {
  return image.status === 'succeeded' && image.output_file ? handOut(urls, deliveryUrl(urls, image.output_file)) : null
}

function imageView(urls: LinkSettings, image: ImageRecord): ImageView {
  const {
    url,
    status,
    output_file: _file,
    error,
    error_kind: _kind,
    outputs,
    downloads: _downloads,
    saved: _saved,
    ...stats
  } = image
  return {
    ...stats,
    input_url: url,
    status,
    output_url: outputUrl(urls, image),
    error: error ?? null,
    savings_pct: savingsPct(image.bytes_in, image.bytes_out),
    ...(outputs && { outputs: outputs.map((o) => outputView(urls, o)) })
  }
}

/** One output as status shows it: its storage key becomes its handed-out URL. */
export function outputView(urls: LinkSettings, output: OutputRecord): OutputView {
  const { file, ...rest } = output
  return { ...rest, url: handOut(urls, deliveryUrl(urls, file)) }
}

/** URLs of the output named `name` for each of `images` (null where the image failed). */
function namedOutputUrls(links: LinkSettings, images: ImageRecord[], name: string): (string | null)[] {
  return images.map((image) => {
    const output = image.status === 'succeeded' ? image.outputs?.find((o) => o.name === name) : undefined
    return output ? handOut(links, deliveryUrl(links, output.file)) : null
  })
}

/**
 * A generous estimate of one image's bytes in a status page: its input URL, plus an output URL (signed), stats
 * and an error; and each further output's URL, size and verdict.
 */
const imageViewBytes = (image: Pick<ImageRecord, 'url' | 'outputs'>) =>
  1000 + image.url.length + (image.outputs?.length ?? 0) * 800

/**
 * How many of `products` (in order) a status page can carry within `maxBytes`: at least one, so paging always
 * moves on. Bounds a page however many URLs its rows list.
 */
export function productsWithin(
  products: ProductRecord[],
  imageOf: (index: number) => Pick<ImageRecord, 'url' | 'outputs'>,
  maxBytes: number
): number {
  let bytes = 0
  for (let i = 0; i < products.length; i++) {
    bytes +=
      200 + products[i]!.name.length + products[i]!.image_ids.reduce((sum, id) => sum + imageViewBytes(imageOf(id)), 0)
    if (bytes > maxBytes) return Math.max(1, i)
  }
  return products.length
}

export interface ProductPage {
  offset: number
  limit: number
  total: number
  products: ProductRecord[]
  images: Map<number, ImageRecord>
}

/**
 * Status as the API shows it: the request, its live image summary (from the units while it runs), its
 * delivery, and one page of products with their images.
 */
export function statusView(
  doc: VisibleRequest,
  images: RequestDocument['images'],
  delivery: DeliveryData | null,
  urls: LinkSettings,
  page: ProductPage
): StatusView {
  const counts = countsOf(images)
  const last = delivery?.attempts.at(-1)
  return {
    request_id: doc.request_id,
    status: doc.status,
    progress_pct:
      counts.total === 0 ? 100 : Math.floor(((counts.succeeded + counts.failed) / counts.total) * 1000) / 10,
    counts,
    totals: totalsView(images),
    options: doc.options,
    ...(doc.outputs && { outputs: doc.outputs }),
    error: doc.error ?? null,
    created_at: doc.created_at.toISOString(),
    updated_at: doc.updated_at.toISOString(),
    started_at: doc.started_at?.toISOString() ?? null,
    completed_at: doc.completed_at?.toISOString() ?? null,
    output_csv_url: doc.output_csv ? handOut(urls, doc.output_csv) : null,
    webhook: delivery
      ? {
          state: delivery.state,
          event_id: delivery.event_id,
          attempts: delivery.attempts.length,
          last_status_code: last?.status_code ?? null,
          last_error: last?.error ?? null
        }
      : null,
    products: {
      offset: page.offset,
      limit: page.limit,
      total: page.total,
      next_offset: page.offset + page.products.length < page.total ? page.offset + page.products.length : null,
      items: page.products.map((p) => ({
        serial: p.serial,
        name: p.name,
        images: p.image_ids.map((i) => imageView(urls, page.images.get(i)!))
      }))
    }
  }
}

/**
 * One output row: the product and its images, outputs in the same order as the inputs. With `outputs`, the
 * first output fills `Output Image Urls` and each further one (`more`, by name) a column of its own.
 */
export function outputRow(
  product: ProductRecord,
  images: ImageRecord[],
  urls: UrlSettings,
  more: string[] = []
): OutputRow {
  const links = csvLinks(urls)
  return {
    serial: product.serial,
    name: product.name,
    inputUrls: images.map((i) => i.url),
    outputUrls: images.map((i) => outputUrl(links, i)),
    ...(more.length > 0 && { moreUrls: more.map((name) => namedOutputUrls(links, images, name)) })
  }
}

export function webhookEvent(
  doc: EventSource,
  eventId: string,
  urls: LinkSettings,
  type: WebhookEventType = 'request.completed'
): WebhookEvent {
  return {
    event_id: eventId,
    type,
    request_id: doc.request_id,
    status: doc.status,
    counts: countsOf(doc.images),
    totals: totalsView(doc.images),
    output_csv_url: doc.output_csv ? handOut(urls, doc.output_csv) : null,
    completed_at: (doc.completed_at ?? new Date()).toISOString()
  }
}
