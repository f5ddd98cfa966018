import { MongoClient, MongoServerError, type Collection, type Db, type Filter } from 'mongodb'
import type { Counts, DeliveryAttempt, DeliveryState, ImageRecord, RequestDocument } from './schema.ts'

export interface ImageUpdate {
  index: number
  record: ImageRecord
}

export interface WebhookEventDocument {
  event_id: string
  request_id: string | null
  received_at: Date
  payload: unknown
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

  constructor(db: Db) {
    this.requests = db.collection<RequestDocument>('requests')
    this.webhookEvents = db.collection<WebhookEventDocument>('webhook_events')
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

  async create(doc: RequestDocument): Promise<void> {
    await this.requests.insertOne(doc)
  }

  /** Without `images` and `products` unless asked: status summaries must not haul a 10,000-image array around. */
  find(requestId: string, detail = false): Promise<RequestDocument | null> {
    const projection = detail ? { _id: 0 } : { _id: 0, images: 0, products: 0 }
    return this.requests.findOne({ request_id: requestId }, { projection }) as Promise<RequestDocument | null>
  }

  /**
   * Atomically takes the oldest request that is Pending, or Processing under a lease that expired (its worker
   * died or gave it back). Requests claimed `maxClaims` times already are left for `failExhausted`.
   */
  async claim(owner: string, leaseMs: number, maxClaims: number, now = new Date()): Promise<RequestDocument | null> {
    const claimable: Filter<RequestDocument> = {
      claims: { $lt: maxClaims },
      $or: [{ status: 'Pending' }, { status: 'Processing', 'lease.expires_at': { $lt: now } }]
    } as Filter<RequestDocument>
    return this.requests.findOneAndUpdate(
      claimable,
      {
        $set: { status: 'Processing', lease: { owner, expires_at: new Date(now.getTime() + leaseMs) }, updated_at: now },
        $min: { started_at: now },
        $inc: { claims: 1 }
      },
      { sort: { created_at: 1 }, returnDocument: 'after' } // FerretDB v1 has no projection on findAndModify
    )
  }

  /** Requests that keep killing their workers are failed instead of being retried forever. */
  async failExhausted(maxClaims: number, now = new Date()): Promise<number> {
    const result = await this.requests.updateMany(
      { status: 'Processing', claims: { $gte: maxClaims }, 'lease.expires_at': { $lt: now } },
      { $set: { status: 'Failed', error: `abandoned: processing was interrupted ${maxClaims} times`, updated_at: now, completed_at: now, lease: null } }
    )
    return result.modifiedCount
  }

  async renewLease(requestId: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = new Date()
    const result = await this.requests.updateOne(
      { request_id: requestId, 'lease.owner': owner, status: 'Processing' },
      { $set: { 'lease.expires_at': new Date(now.getTime() + leaseMs), updated_at: now } }
    )
    return result.matchedCount === 1
  }

  /** Gives the request back so another worker picks it up at once (graceful shutdown). */
  async releaseLease(requestId: string, owner: string): Promise<void> {
    await this.requests.updateOne(
      { request_id: requestId, 'lease.owner': owner, status: 'Processing' },
      { $set: { 'lease.expires_at': new Date(0), updated_at: new Date() } }
    )
  }

  /** One write for a batch of finished images: their records and the matching counter changes. */
  async recordImages(requestId: string, owner: string, updates: ImageUpdate[]): Promise<boolean> {
    if (updates.length === 0) return true
    const set: Record<string, unknown> = { updated_at: new Date() }
    const delta = { succeeded: 0, failed: 0, pending: 0, bytes_in: 0, bytes_out: 0 }
    for (const { index, record } of updates) {
      set[`images.${index}`] = record
      if (record.status !== 'pending') {
        delta[record.status] += 1
        delta.pending -= 1
      }
      delta.bytes_in += record.bytes_in ?? 0
      delta.bytes_out += record.bytes_out ?? 0
    }
    const result = await this.requests.updateOne(
      { request_id: requestId, 'lease.owner': owner, status: 'Processing' },
      {
        $set: set,
        $inc: {
          'counts.succeeded': delta.succeeded,
          'counts.failed': delta.failed,
          'counts.pending': delta.pending,
          'totals.bytes_in': delta.bytes_in,
          'totals.bytes_out': delta.bytes_out
        }
      }
    )
    return result.matchedCount === 1
  }

  async complete(requestId: string, owner: string, outputCsvUrl: string, eventId: string | null, now = new Date()): Promise<boolean> {
    const set: Partial<RequestDocument> = { status: 'Completed', output_csv: outputCsvUrl, completed_at: now, updated_at: now, lease: null }
    if (eventId) set.webhook = { event_id: eventId, state: 'pending', attempts: [], next_attempt_at: now }
    const result = await this.requests.updateOne({ request_id: requestId, 'lease.owner': owner, status: 'Processing' }, { $set: set })
    return result.matchedCount === 1
  }

  async fail(requestId: string, owner: string, reason: string, eventId: string | null, now = new Date()): Promise<boolean> {
    const set: Partial<RequestDocument> = { status: 'Failed', error: reason, completed_at: now, updated_at: now, lease: null }
    if (eventId) set.webhook = { event_id: eventId, state: 'pending', attempts: [], next_attempt_at: now }
    const result = await this.requests.updateOne({ request_id: requestId, 'lease.owner': owner, status: 'Processing' }, { $set: set })
    return result.matchedCount === 1
  }

  /**
   * Takes one due webhook delivery under its own short lease, so a crashed deliverer's event is picked up again
   * (with the same event_id) and slow receivers never hold up image processing.
   */
  claimDelivery(owner: string, leaseMs: number, now = new Date()): Promise<RequestDocument | null> {
    return this.requests.findOneAndUpdate(
      {
        'webhook.state': 'pending',
        'webhook.next_attempt_at': { $lte: now },
        $or: [{ delivery_lease: null }, { 'delivery_lease.expires_at': { $lt: now } }]
      } as Filter<RequestDocument>,
      { $set: { delivery_lease: { owner, expires_at: new Date(now.getTime() + leaseMs) } } },
      { sort: { 'webhook.next_attempt_at': 1 }, returnDocument: 'after' }
    )
  }

  async recordDelivery(requestId: string, owner: string, attempt: DeliveryAttempt, state: DeliveryState, nextAttemptAt: Date): Promise<void> {
    const set: Record<string, unknown> = { 'webhook.state': state, 'webhook.next_attempt_at': nextAttemptAt, delivery_lease: null }
    if (state === 'delivered') set['webhook.delivered_at'] = attempt.at
    await this.requests.updateOne(
      { request_id: requestId, 'delivery_lease.owner': owner },
      { $set: set, $push: { 'webhook.attempts': attempt } } as never
    )
  }

  countByStatus(): Promise<Array<{ _id: string; n: number }>> {
    return this.requests.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$status', n: { $sum: 1 } } }]).toArray()
  }

  /** Stores a received webhook event once; false when the event id was seen before (a redelivery). */
  async storeWebhookEvent(event: WebhookEventDocument): Promise<boolean> {
    try {
      await this.webhookEvents.insertOne(event)
      return true
    } catch (err) {
      if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) return false
      throw err
    }
  }
}

export function initialCounts(total: number): Counts {
  return { total, succeeded: 0, failed: 0, pending: total }
}
