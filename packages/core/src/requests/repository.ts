import { MongoClient, MongoServerError, type Collection, type Db, type Document, type Filter, type OptionalUnlessRequiredId } from 'mongodb'
import type { DeliveryAttempt, DeliveryState, ImageRecord, ProductRecord, RequestDocument } from './schema.ts'
import { chunkId, imageSlot, productChunks, splitIntoChunks } from './chunks.ts'

export interface ImageUpdate {
  index: number
  record: ImageRecord
}

export interface ChunkDocument {
  _id: string
  request_id: string
  n: number
  products: ProductRecord[]
  images: ImageRecord[]
}

/** A request's rows and images as the worker and the status page need them. */
export interface RequestContent {
  products: ProductRecord[]
  images: ImageRecord[]
}

/** One document per claim generation; its unique _id makes a claim exclusive even where updates are not atomic. */
export interface ClaimToken {
  _id: string
  owner: string
  at: Date
}

export interface WebhookEventDocument {
  event_id: string
  request_id: string | null
  received_at: Date
  payload: unknown
}

/** A counter bumped whenever there is new work to claim: a hint that spares idle workers a scan of `requests`. */
export interface WorkSignal {
  _id: 'requests'
  seq: number
}

const DUPLICATE_KEY = 11000

export async function connectMongo(uri: string, dbName: string): Promise<{ client: MongoClient; db: Db }> {
  // Short server selection so a missing database is reported quickly; the driver keeps retrying in the background.
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000, appName: 'imgproc' })
  await client.connect()
  return { client, db: client.db(dbName) }
}

/** Data access for `requests`. Every write by a worker is conditional on it still holding the lease. */
export class RequestRepository {
  readonly requests: Collection<RequestDocument>
  readonly webhookEvents: Collection<WebhookEventDocument>
  readonly claimTokens: Collection<ClaimToken>
  readonly chunks: Collection<ChunkDocument>
  readonly signals: Collection<WorkSignal>

  constructor(db: Db) {
    this.signals = db.collection<WorkSignal>('work_signals')
    this.chunks = db.collection<ChunkDocument>('request_chunks')
    this.requests = db.collection<RequestDocument>('requests')
    this.webhookEvents = db.collection<WebhookEventDocument>('webhook_events')
    this.claimTokens = db.collection<ClaimToken>('claim_tokens')
  }

  async ensureIndexes(): Promise<void> {
    await this.requests.createIndex({ request_id: 1 }, { unique: true })
    await this.requests.createIndex({ status: 1, 'lease.expires_at': 1, created_at: 1 })
    await this.requests.createIndex({ 'webhook.state': 1, 'webhook.next_attempt_at': 1 })
    await this.webhookEvents.createIndex({ event_id: 1 }, { unique: true })
  }

  async ping(): Promise<void> {
    await this.requests.db.command({ ping: 1 })
  }

  /** Stores a new request: rows and images beyond the first chunk go to `request_chunks`, written first. */
  async create(doc: RequestDocument): Promise<void> {
    const [inline, ...rest] = splitIntoChunks(doc.products, doc.images, doc.chunk_size)
    // In batches: one message for all of a 10 MB request would hold all of it serialised at once.
    for (let i = 0; i < rest.length; i += 8) {
      await this.chunks.insertMany(rest.slice(i, i + 8).map((c) => ({ _id: chunkId(doc.request_id, c.n), request_id: doc.request_id, ...c })), { ordered: false })
    }
    await this.requests.insertOne({ ...doc, products: inline!.products, images: inline!.images, chunks: rest.length + 1 })
    await this.announceWork().catch(() => undefined) // only a hint: idle workers also scan on their own every few seconds
  }

  /**
   * Finding claimable requests is a query over `requests`, which FerretDB v1 answers by decoding every document
   * in the collection; idle workers therefore watch this one-document counter and scan only when it moves (or
   * when their idle interval ends, which is how expired leases are found).
   */
  async announceWork(): Promise<void> {
    await this.signals.updateOne({ _id: 'requests' }, { $inc: { seq: 1 } }, { upsert: true })
  }

  async workSignal(): Promise<number> {
    return (await this.signals.findOne({ _id: 'requests' }))?.seq ?? 0
  }

  private async chunk(doc: RequestDocument, n: number): Promise<{ products: ProductRecord[]; images: ImageRecord[] }> {
    if (n === 0) return doc
    const chunk = await this.chunks.findOne({ _id: chunkId(doc.request_id, n) })
    if (!chunk) throw new Error(`request ${doc.request_id} is missing its chunk ${n}`)
    return chunk
  }

  /** Every row and image of a request (the inline chunk comes with `doc`, which must be a detail load). */
  async loadAll(doc: RequestDocument): Promise<RequestContent> {
    const chunks = [doc, ...(await Promise.all(Array.from({ length: (doc.chunks ?? 1) - 1 }, (_, i) => this.chunk(doc, i + 1))))]
    return { products: chunks.flatMap((c) => c.products), images: chunks.flatMap((c) => c.images) }
  }

  /** Product rows [offset, offset + limit) and the images they use, reading only the chunks that hold them. */
  async loadPage(doc: RequestDocument, offset: number, limit: number, totalProducts: number): Promise<{ products: ProductRecord[]; images: Map<number, ImageRecord> }> {
    const size = doc.chunk_size
    const loaded = new Map<number, { products: ProductRecord[]; images: ImageRecord[] }>()
    const get = async (n: number) => loaded.get(n) ?? loaded.set(n, await this.chunk(doc, n)).get(n)!
    const rows: ProductRecord[] = []
    for (const n of productChunks(offset, limit, totalProducts, size)) {
      const chunk = await get(n)
      rows.push(...chunk.products.filter((_, i) => n * size + i >= offset && n * size + i < offset + limit))
    }
    const images = new Map<number, ImageRecord>()
    for (const index of new Set(rows.flatMap((p) => p.image_ids))) {
      const { n } = imageSlot(index, size)
      images.set(index, (await get(n)).images[index % size]!)
    }
    return { products: rows, images }
  }

  /** Without `images` and `products` unless asked: status summaries must not haul a 10,000-image array around. */
  find(requestId: string, detail = false): Promise<RequestDocument | null> {
    const projection = detail ? {} : { images: 0, products: 0 }
    // A bare _id filter: FerretDB v1 pushes only that down to SQLite; any other filter parses the whole collection.
    return this.requests.findOne({ _id: requestId }, { projection }) as Promise<RequestDocument | null>
  }

  /**
   * Takes the oldest request that is Pending, or Processing under a lease that expired (its worker died or gave it
   * back). FerretDB v1 runs an update as a read followed by a whole-document write, so a claim write racing the
   * owner's progress writes could undo them; only a unique insert is atomic there. So: pick a candidate, insert the
   * token `<request_id>#<next claim number>` (exactly one worker can), and only that worker's findOneAndUpdate
   * writes the claim. Losers write nothing. On MongoDB the findOneAndUpdate filter alone would already suffice.
   */
  async claim(owner: string, leaseMs: number, maxClaims: number, now = new Date()): Promise<RequestDocument | null> {
    const lost: string[] = []
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimable = {
        claims: { $lt: maxClaims },
        request_id: { $nin: lost },
        $or: [{ status: 'Pending' }, { status: 'Processing', 'lease.expires_at': { $lt: now } }]
      } as Filter<RequestDocument>
      const candidate = await this.requests.findOne(claimable, { sort: { created_at: 1 }, projection: { request_id: 1, claims: 1 } })
      if (!candidate) return null
      if (!(await this.takeToken(`${candidate.request_id}#${candidate.claims + 1}`, owner, now))) {
        lost.push(candidate.request_id)
        continue
      }
      const lease = { owner, expires_at: new Date(now.getTime() + leaseMs) }
      const doc = await this.requests.findOneAndUpdate(
        { ...claimable, _id: candidate._id, claims: candidate.claims },
        { $set: { status: 'Processing', lease, updated_at: now }, $min: { started_at: now }, $inc: { claims: 1 } },
        { returnDocument: 'after' } // FerretDB v1 has no projection on findAndModify
      )
      if (doc) return doc
    }
    return null
  }

  private takeToken(id: string, owner: string, at: Date): Promise<boolean> {
    return insertOnce(this.claimTokens, { _id: id, owner, at })
  }

  /** Requests that keep killing their workers are failed instead of being retried forever. */
  async failExhausted(maxClaims: number, now = new Date()): Promise<number> {
    const result = await this.requests.updateMany(
      { status: 'Processing', claims: { $gte: maxClaims }, 'lease.expires_at': { $lt: now } },
      { $set: { status: 'Failed', error: `abandoned: processing was interrupted ${maxClaims} times`, updated_at: now, completed_at: now, lease: null } }
    )
    return result.modifiedCount
  }

  /** Gives the request back so another worker picks it up at once (graceful shutdown). */
  async releaseLease(requestId: string, owner: string): Promise<void> {
    await this.requests.updateOne(
      { _id: requestId, 'lease.owner': owner, status: 'Processing' },
      { $set: { 'lease.expires_at': new Date(0), updated_at: new Date() } }
    )
    await this.announceWork().catch(() => undefined) // a hint; without it the request is found by the next idle scan
  }

  /**
   * One write per touched chunk for a batch of finished images, then the request document: lease extension and
   * the counters, set from the owner's complete in-memory view (never incremented, so they cannot drift). With
   * no images it is the heartbeat. All of a worker's writes to a request go through one queue: on FerretDB
   * concurrent updates of one document can overwrite each other.
   */
  async recordImages(requestId: string, owner: string, updates: ImageUpdate[], leaseMs: number, chunkSize: number, progress: Pick<RequestDocument, 'counts' | 'totals'>): Promise<boolean> {
    const now = new Date()
    const inline: Record<string, unknown> = {}
    const byChunk = new Map<number, Record<string, unknown>>()
    for (const { index, record } of updates) {
      const { n, path } = imageSlot(index, chunkSize)
      if (n === 0) inline[path] = record
      else byChunk.set(n, { ...byChunk.get(n), [path]: record })
    }
    for (const [n, set] of byChunk) await this.chunks.updateOne({ _id: chunkId(requestId, n) }, { $set: set })
    const result = await this.requests.updateOne(
      { _id: requestId, 'lease.owner': owner, status: 'Processing' },
      { $set: { ...inline, counts: progress.counts, totals: progress.totals, updated_at: now, 'lease.expires_at': new Date(now.getTime() + leaseMs) } }
    )
    return result.matchedCount === 1
  }

  async complete(requestId: string, owner: string, outputCsvUrl: string, eventId: string | null, now = new Date()): Promise<boolean> {
    const set: Partial<RequestDocument> = { status: 'Completed', output_csv: outputCsvUrl, completed_at: now, updated_at: now, lease: null }
    if (eventId) set.webhook = { event_id: eventId, state: 'pending', attempts: [], next_attempt_at: now }
    const result = await this.requests.updateOne({ _id: requestId, 'lease.owner': owner, status: 'Processing' }, { $set: set })
    return result.matchedCount === 1
  }

  /**
   * Takes one due webhook delivery under its own short lease, so a crashed deliverer's event is picked up again
   * (with the same event_id) and slow receivers never hold up image processing. Same token rule as `claim`.
   */
  async claimDelivery(owner: string, leaseMs: number, now = new Date()): Promise<RequestDocument | null> {
    const due = {
      'webhook.state': 'pending',
      'webhook.next_attempt_at': { $lte: now },
      $or: [{ delivery_lease: null }, { 'delivery_lease.expires_at': { $lt: now } }]
    } as Filter<RequestDocument>
    const candidate = await this.requests.findOne(due, { sort: { 'webhook.next_attempt_at': 1 }, projection: { request_id: 1, delivery_claims: 1 } })
    if (!candidate) return null
    const generation = (candidate.delivery_claims ?? 0) + 1
    if (!(await this.takeToken(`${candidate.request_id}#delivery#${generation}`, owner, now))) return null
    return this.requests.findOneAndUpdate(
      { ...due, _id: candidate._id },
      { $set: { delivery_lease: { owner, expires_at: new Date(now.getTime() + leaseMs) }, delivery_claims: generation } },
      { returnDocument: 'after' }
    )
  }

  async recordDelivery(requestId: string, owner: string, attempt: DeliveryAttempt, state: DeliveryState, nextAttemptAt: Date): Promise<void> {
    const set: Record<string, unknown> = { 'webhook.state': state, 'webhook.next_attempt_at': nextAttemptAt, delivery_lease: null }
    if (state === 'delivered') set['webhook.delivered_at'] = attempt.at
    await this.requests.updateOne(
      { _id: requestId, 'delivery_lease.owner': owner },
      { $set: set, $push: { 'webhook.attempts': attempt } } as never
    )
  }

  countByStatus(): Promise<Array<{ _id: string; n: number }>> {
    return this.requests.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]).toArray()
  }

  /** Stores a received webhook event once; false when the event id was seen before (a redelivery). */
  storeWebhookEvent(event: WebhookEventDocument): Promise<boolean> {
    return insertOnce(this.webhookEvents, event)
  }
}

/** Inserts `doc` unless its unique key exists already: true for the first writer, false for everyone after. */
async function insertOnce<T extends Document>(collection: Collection<T>, doc: OptionalUnlessRequiredId<T>): Promise<boolean> {
  try {
    await collection.insertOne(doc)
    return true
  } catch (err) {
    if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) return false
    throw err
  }
}
