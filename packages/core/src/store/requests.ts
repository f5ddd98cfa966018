import type { Collection, Db } from 'mongodb'
import {
  addTallies,
  imagesSummary,
  PRODUCTS_PER_PAGE,
  productPagesFor,
  type RequestPlan,
  unitOf
} from '../requests/plan.ts'
import type {
  DeliveryData,
  ImageRecord,
  ProductPageDocument,
  ProductRecord,
  RequestDocument,
  VisibleRequest
} from '../requests/records.ts'
import { productsWithin } from '../requests/view.ts'
import {
  type CreationParts,
  type CreationPauses,
  type CreationsSettled,
  createRequest,
  HIDDEN,
  StagedCreation,
  settleCreations
} from './creation.ts'
import { Jobs } from './jobs.ts'
import {
  type CancelledSet,
  expiredBefore,
  type FinalSet,
  finishRequest,
  markStarted,
  oldestCreatedAt,
  settleCancelled
} from './lifecycle.ts'
import { LIST_INDEXES, RequestManagement } from './management.ts'
import { insertOnce } from './mongo.ts'
import { WorkQueue } from './queue.ts'

export interface WebhookEventDocument {
  event_id: string
  request_id: string | null
  received_at: Date
  payload: unknown
}

/**
 * Requests and everything keyed by their request_id: the request document, its product pages, and (through
 * `jobs`) its work units, finisher and webhook delivery. Besides the queue, the only code that talks to MongoDB.
 */
export class RequestStore {
  readonly requests: Collection<RequestDocument>
  readonly productPages: Collection<ProductPageDocument>
  readonly webhookEvents: Collection<WebhookEventDocument>
  /** The work queue, for the runner that claims from it. */
  readonly queue: WorkQueue
  /** Every job by kind and type. */
  readonly jobs: Jobs
  /** The list, cancel and retry (management.ts). */
  readonly management: RequestManagement

  constructor(db: Db) {
    this.requests = db.collection<RequestDocument>('requests')
    this.productPages = db.collection<ProductPageDocument>('request_products')
    this.webhookEvents = db.collection<WebhookEventDocument>('webhook_events')
    this.queue = new WorkQueue(db)
    this.jobs = new Jobs(this.queue)
    this.management = new RequestManagement(this)
  }

  async ensureIndexes(): Promise<void> {
    await this.requests.createIndex({ request_id: 1 }, { unique: true })
    await this.requests.createIndex({ status: 1, completed_at: 1 })
    await this.requests.createIndex({ status: 1, created_at: 1 })
    for (const index of LIST_INDEXES) await this.requests.createIndex(index)
    await this.requests.createIndex({ created_at: 1 })
    await this.productPages.createIndex({ request_id: 1, n: 1 }, { unique: true })
    await this.webhookEvents.createIndex({ event_id: 1 }, { unique: true })
    await this.webhookEvents.createIndex({ received_at: 1 })
    await this.queue.ensureIndexes()
  }

  async ping(): Promise<void> {
    await this.requests.db.command({ ping: 1 })
  }

  /** Stores an accepted request, all or nothing (see creation.ts). */
  create(plan: RequestPlan, pauses: CreationPauses = {}): Promise<void> {
    return createRequest(this.creationParts(), plan, pauses)
  }

  /** Begins a request created batch by batch as its upload streams in (see creation.ts). */
  stage(request: RequestDocument): Promise<StagedCreation> {
    return StagedCreation.begin(this.creationParts(), request)
  }

  /** Completes or undoes what creations that stopped before `cutoff` left (see creation.ts). */
  settleCreations(cutoff: Date, limit = 100): Promise<CreationsSettled> {
    return settleCreations(this.creationParts(), cutoff, limit)
  }

  private creationParts(): CreationParts {
    return {
      requests: this.requests,
      productPages: this.productPages,
      jobs: this.jobs,
      removeParts: (id) => this.removeParts(id)
    }
  }

  /** A request as readers see it; null for an unknown id, and for one whose creation has not completed. */
  find(requestId: string): Promise<VisibleRequest | null> {
    return this.requests.findOne(
      { request_id: requestId, status: { $nin: HIDDEN } },
      { projection: { _id: 0 } }
    ) as Promise<VisibleRequest | null>
  }

  /** The image summary as of now: stored once the request is finished, summed over its units while it runs. */
  async imagesNow(doc: RequestDocument): Promise<RequestDocument['images']> {
    // A Cancelled request's summary is stored once its finisher has written what was done (and the output CSV).
    if (doc.status === 'Completed' || doc.status === 'Failed' || (doc.status === 'Cancelled' && doc.output_csv))
      return doc.images
    return this.unitsSummary(doc)
  }

  /** The summary from the units' counters (exact: each is written in the same update as the records it counts). */
  async unitsSummary(doc: RequestDocument): Promise<RequestDocument['images']> {
    return imagesSummary(doc.images.total, addTallies(await this.jobs.unitTallies(doc.request_id)))
  }

  /** The webhook delivery of a request's latest event (of its current round, or the last round that had one). */
  async delivery(requestId: string, round = 0): Promise<DeliveryData | null> {
    // While a retry runs, its round has no event yet: the latest is the round before's. One read per status poll.
    return (await this.jobs.latestDelivery(requestId, round))?.data ?? null
  }

  /**
   * The product pages that hold rows `offset` to `offset + limit` of a request, those that exist. Needs only the
   * id, so a status read fetches them alongside the request itself (one round trip fewer); they are shown only if
   * the request turns out to be visible to the caller.
   */
  pagesFor(requestId: string, offset: number, limit: number): Promise<ProductPageDocument[]> {
    const n = productPagesFor(offset, limit, Number.POSITIVE_INFINITY)
    if (n.length === 0) return Promise.resolve([])
    return this.productPages
      .find({ request_id: requestId, n: { $in: n } })
      .sort({ n: 1 })
      .toArray()
  }

  /**
   * Product rows from `offset` of the pages read by `pagesFor`, at most `limit` of them and no more than fit in
   * `maxBytes` of status page, and the images they use, reading only the units that hold them.
   */
  async loadPage(
    doc: RequestDocument,
    pages: ProductPageDocument[],
    offset: number,
    limit: number,
    maxBytes: number
  ): Promise<{ products: ProductRecord[]; images: Map<number, ImageRecord> }> {
    const rows = pages.flatMap((p) => p.products.map((product, i) => ({ product, at: p.n * PRODUCTS_PER_PAGE + i })))
    // First cut by the least an image can cost (no unit is read for rows that cannot fit), then by real URLs.
    const end = Math.min(offset + limit, doc.product_count)
    const window = rows.filter((r) => r.at >= offset && r.at < end).map((r) => r.product)
    const products = window.slice(
      0,
      productsWithin(window, () => ({ url: '' }), maxBytes)
    )
    const units = await this.unitsFor(doc, products)
    // Units gone under a live request: retention is removing it right now. Show no rows rather than fail.
    if (!units) return { products: [], images: new Map() }
    const images = new Map(
      products.flatMap((p) => p.image_ids).map((i) => [i, imageAt(units, i, doc.unit_size)] as const)
    )
    return {
      products: products.slice(
        0,
        productsWithin(products, (i) => images.get(i)!, maxBytes)
      ),
      images
    }
  }

  /**
   * Every product row of a request in order, each with its images (the finisher's view), read a product page at a
   * time with the work units its rows use (one query for those not already held for the page before): memory
   * stays the same whatever the request's size, and a URL repeated from far back costs no extra query.
   */
  async *rowsInOrder(doc: RequestDocument): AsyncGenerator<{ product: ProductRecord; images: ImageRecord[] }> {
    let held = new Map<number, ImageRecord[]>()
    let rows = 0
    const pages = this.productPages.find({ request_id: doc.request_id }).sort({ n: 1 }).batchSize(1)
    for await (const page of pages) {
      const units = await this.unitsFor(doc, page.products, held)
      if (!units) throw new Error(`request ${doc.request_id}: a work unit of product page ${page.n} is missing`)
      held = units
      for (const product of page.products) {
        rows += 1
        yield { product, images: product.image_ids.map((i) => imageAt(units, i, doc.unit_size)) }
      }
    }
    if (rows !== doc.product_count)
      throw new Error(`request ${doc.request_id}: ${rows} of ${doc.product_count} product rows found`)
  }

  /** The work units holding these products' images: those in `held` kept, the rest read in one query; null if one is gone. */
  private async unitsFor(
    doc: RequestDocument,
    products: ProductRecord[],
    held = new Map<number, ImageRecord[]>()
  ): Promise<Map<number, ImageRecord[]> | null> {
    const needed = new Set(products.flatMap((p) => p.image_ids.map((i) => unitOf(i, doc.unit_size).n)))
    const loaded = await this.jobs.unitImages(
      doc.request_id,
      [...needed].filter((n) => !held.has(n))
    )
    const units = new Map<number, ImageRecord[]>()
    for (const n of needed) {
      const unit = held.get(n) ?? loaded.get(n)
      if (!unit) return null
      units.set(n, unit)
    }
    return units
  }

  /** The first claimed unit moves the request from Pending to Processing (once). */
  markStarted(requestId: string, now = new Date()): Promise<void> {
    return markStarted(this.requests, requestId, now)
  }

  /** The one transition to a final status; false if the request had reached one already. */
  finish(requestId: string, set: FinalSet, now = new Date()): Promise<boolean> {
    return finishRequest(this.requests, requestId, set, now)
  }

  /** A cancelled request's summary and output CSV, once; false if already written or no longer Cancelled. */
  settleCancelled(requestId: string, set: CancelledSet, now = new Date()): Promise<boolean> {
    return settleCancelled(this.requests, requestId, set, now)
  }

  /** Requests still in the system, by status: index-only counts over the backlog (see metrics). */
  async countActive(): Promise<Array<{ _id: string; n: number }>> {
    return Promise.all(
      (['Pending', 'Processing'] as const).map(async (status) => ({
        _id: status,
        n: await this.requests.countDocuments({ status })
      }))
    )
  }

  /** Stores a received webhook event once; false when the event id was seen before (a redelivery). */
  storeWebhookEvent(event: WebhookEventDocument): Promise<boolean> {
    return insertOnce(this.webhookEvents, event)
  }

  /** The retention sweep's work list: requests finished, or still Pending, before `cutoff`. */
  expiredBefore(cutoff: Date, limit: number): Promise<string[]> {
    return expiredBefore(this.requests, cutoff, limit)
  }

  /** When the oldest request still kept was created (null when none is). */
  oldestCreatedAt(): Promise<Date | null> {
    return oldestCreatedAt(this.requests)
  }

  /** Removes a request's documents; the request document goes last, so an interrupted removal is found again. */
  async remove(requestId: string): Promise<void> {
    await this.removeParts(requestId)
    await this.requests.deleteOne({ request_id: requestId })
  }

  /** Everything of a request but its document: its jobs, then its product pages. */
  private async removeParts(requestId: string): Promise<void> {
    await this.jobs.removeRequest(requestId)
    await this.productPages.deleteMany({ request_id: requestId })
  }

  async removeWebhookEventsBefore(cutoff: Date): Promise<number> {
    return (await this.webhookEvents.deleteMany({ received_at: { $lt: cutoff } })).deletedCount
  }
}

/** Image `index` of a request, from the units holding it. */
function imageAt(units: Map<number, ImageRecord[]>, index: number, unitSize: number): ImageRecord {
  const { n, slot } = unitOf(index, unitSize)
  return units.get(n)![slot]!
}
