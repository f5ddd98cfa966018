import type { Compliance } from '../output-sets/compliance.ts'
import type { ResolvedOutput } from '../output-sets/spec.ts'
import type { ReuseKind } from '../reuse/decision.ts'
import type {
  Counts,
  ImageStats,
  ImageStatus,
  OutputCounts,
  ProcessingOptions,
  RequestStatus,
  WebhookEventType
} from './contracts.ts'

/**
 * The records the store keeps for a request: its document, its product rows, its work units' image records and
 * its webhook delivery. The API never sends them as they are; view.ts turns them into the wire contracts.
 */

/** One distinct input URL of a request. Products refer to images by index, so a URL repeated in a CSV is fetched once. */
export interface ImageRecord extends Partial<ImageStats> {
  url: string
  status: ImageStatus
  output_file?: string
  error?: string
  /** Why it failed, as a fixed vocabulary (metrics labels, dashboards); `error` is the sentence for people. */
  error_kind?: string
  /** With `outputs`: every output, in the request's order (the first is also `output_file` and the stats). */
  outputs?: OutputRecord[]
  /**
   * While pending: how many runs of its unit downloaded it and then could not store it (a storage outage), so
   * the next download is a re-download (`imgproc_image_redownloads_total`). Never shown to customers.
   */
  downloads?: number
  /** Its outputs were reused (docs/reuse.md): how, and what that saved (from the reused outputs' recorded cost). */
  reused?: ReuseKind
  saved?: { cpu_ms: number; bytes: number }
}

/** One stored output of an image. */
export interface OutputRecord {
  name: string
  /** Its storage key: opaque to everything but the storage port (outputs made alike share one). */
  file: string
  format: string
  width: number
  height: number
  bytes: number
  quality?: number
  score?: number
  compliance?: Compliance
}

export interface ProductRecord {
  serial: number
  name: string
  image_ids: number[]
}

/** Outcome counters and byte sums over a set of images: a work unit's, or a whole request's. */
export interface Tally {
  succeeded: number
  failed: number
  bytes_in: number
  bytes_out: number
  /** Over succeeded images with a score (quality=auto): how many, their sum and the lowest. */
  scored?: number
  score_sum?: number
  score_min?: number | null
  /** With `outputs`: per output name, delivered outputs and their verdicts (absent without a set). */
  outputs?: Record<string, OutputCounts>
  /** Images whose outputs were reused, the source bytes not downloaded and the compression CPU not spent. */
  reused?: number
  bytes_not_downloaded?: number
  cpu_ms_saved?: number
}

/**
 * A request's status as stored: the wire's, or two that no reader ever sees. Staging: its upload is still writing
 * it (the upload's last write makes it Pending). Discarded: its upload died while staging it, and the sweep is
 * removing what it wrote.
 */
export type StoredRequestStatus = RequestStatus | 'Staging' | 'Discarded'

/** A request as readers see it: never Staging or Discarded. */
export type VisibleRequest = RequestDocument & { status: RequestStatus }

/**
 * `requests`: one small document per request. `images` is the summary (`total` from the start; outcome counts
 * and bytes once the request finishes). Per-image detail lives in the request's work units and its product rows
 * in `request_products`, both keyed by `request_id`.
 */
export interface RequestDocument {
  request_id: string
  status: StoredRequestStatus
  created_at: Date
  updated_at: Date
  started_at?: Date
  completed_at?: Date
  error?: string
  options: ProcessingOptions
  /** The upload's `outputs`, presets expanded; absent without it (one output, set by `options`). */
  outputs?: ResolvedOutput[]
  webhook_url?: string
  /** The tenant (API key) that created it, when API_KEYS is set: only that key may read its status. */
  owner?: string
  product_count: number
  /** How many work units the images were split into, and their size (image i is in unit ⌊i / unit_size⌋). */
  units: number
  unit_size: number
  images: Counts & Omit<Tally, 'succeeded' | 'failed'>
  output_csv?: string
  /** How many times it was retried (POST /requests/:id/retry); each round writes its own output CSV and event. */
  round?: number
  /** When it was cancelled (POST /requests/:id/cancel); `completed_at` is the same moment. */
  cancelled_at?: Date
  /** While a retry re-queues its units: their numbers (an API that dies halfway leaves it for the sweep). */
  retrying?: number[]
  /** The upload's `reuse=false`: every image is processed afresh and stored for this request alone. */
  reuse?: false
}

/** `request_products`: a page of a request's product rows (PRODUCTS_PER_PAGE of them). */
export interface ProductPageDocument {
  request_id: string
  n: number
  products: ProductRecord[]
}

/** A work unit's data: some of one request's distinct images, claimed as one job. */
export interface UnitData {
  /** Unit number; it holds images [first, first + images.length). */
  n: number
  first: number
  options: ProcessingOptions
  outputs?: ResolvedOutput[]
  images: ImageRecord[]
  /** Counters over `images`, written in the same document update as the records they count. */
  tally: Tally /** The retry round that re-queued it last (absent: never). */
  round?: number
}

export interface DeliveryAttempt {
  at: Date
  status_code?: number
  error?: string
  duration_ms: number
}

export type DeliveryState = 'pending' | 'delivered' | 'failed'

/** What a webhook event reports of its request, as it was when the event was queued. */
export type EventSource = Pick<VisibleRequest, 'request_id' | 'status' | 'images' | 'output_csv' | 'completed_at'>

/**
 * One webhook event's delivery: its event id, and every attempt to deliver it. A request has one per round (its
 * first run, then each retry).
 */
export interface DeliveryData {
  event_id: string
  /** Absent on deliveries stored before events had types: request.completed. */
  type?: WebhookEventType
  /** The request as the event reports it (absent on older deliveries: the request as it is now). */
  request?: EventSource
  url: string
  state: DeliveryState
  attempts: DeliveryAttempt[]
  delivered_at?: Date
}
