/**
 * How a request comes into being all or nothing, with or without a replica set: written staged and held, then
 * committed by one update; and the sweep that finishes or undoes creations whose upload died.
 */
import type { Collection } from 'mongodb'
import type { RequestPlan } from '../requests/plan.ts'
import type { ProductPageDocument, RequestDocument } from '../requests/records.ts'
import type { Jobs } from './jobs.ts'
import { insertMissing, insertOnce } from './mongo.ts'

/**
 * Pauses inside `create`, for tests that kill the API at an exact moment. Production passes none; the crash test
 * starts the API through an entry point of its own that does (test/support/gated-api.ts).
 */
export interface CreationPauses {
  /** Everything is written, staged; the write that makes the request visible comes next. */
  beforeCommit?: (requestId: string) => Promise<void>
  /** The request is visible (Pending); its units are about to be released to workers. */
  beforeRelease?: (requestId: string) => Promise<void>
}

/** The upload's commit found its staged request gone: its creation took longer than the sweep allows. */
export class CreationAbandoned extends Error {
  override name = 'CreationAbandoned'
}

/** What one settleCreations pass did. */
export interface CreationsSettled {
  /** Staged requests whose upload died: removed, never seen. */
  discarded: number
  /** Committed requests whose units were still held: released to workers. */
  released: number
  /** Held units whose request does not exist (a discarded request's upload wrote on after it): removed. */
  orphaned: number
}

/** Statuses no reader sees: a request being created, or one being removed because its creation died. */
export const HIDDEN: Array<RequestDocument['status']> = ['Staging', 'Discarded']

/** What creation needs of the store. */
export interface CreationParts {
  requests: Collection<RequestDocument>
  productPages: Collection<ProductPageDocument>
  jobs: Jobs
  /** Everything of a request but its document. */
  removeParts: (requestId: string) => Promise<void>
}

/**
 * Stores an accepted request, all or nothing, with or without a replica set: a StagedCreation written in one
 * batch (see there).
 */
export async function createRequest(
  store: CreationParts,
  plan: RequestPlan,
  pauses: CreationPauses = {}
): Promise<void> {
  const creation = await StagedCreation.begin(store, plan.request)
  await creation.write(plan)
  await creation.commit(plan.request, pauses)
}

/**
 * A request created from batches, all or nothing, with or without a replica set. The request document goes
 * first, Staging (no reader sees it); then, batch by batch as an upload streams in, its product pages and its
 * units, held (no worker claims them); at the end its finisher, then one update makes the request Pending: the
 * commit. Only then are the units released, in one update. An upload that dies before the commit leaves a staged
 * request that settleCreations removes once it has not been written to for the timeout; one that dies after it
 * leaves units that settleCreations releases.
 */
export class StagedCreation {
  private constructor(
    private readonly store: CreationParts,
    readonly requestId: string
  ) {}

  /** Writes the request document, Staging (its counts and options are set at the commit). */
  static async begin(store: CreationParts, request: RequestDocument): Promise<StagedCreation> {
    await insertOnce(store.requests, { ...request, status: 'Staging' as const })
    return new StagedCreation(store, request.request_id)
  }

  /**
   * Writes a batch of product pages and units (held), then marks the staged request as still being written, so
   * the sweep leaves a long upload alone. Throws CreationAbandoned (having removed what it wrote) if the sweep
   * took the request first.
   */
  async write(batch: Pick<RequestPlan, 'productPages' | 'units'>): Promise<void> {
    await insertMissing(this.store.productPages, batch.productPages, 20)
    await this.store.jobs.holdUnits(this.requestId, batch.units)
    const alive = await this.store.requests.updateOne(
      { request_id: this.requestId, status: 'Staging' },
      { $set: { updated_at: new Date() } }
    )
    if (alive.matchedCount !== 1) await this.abandoned()
  }

  /**
   * Makes the request whole and visible: every held unit is given the request's options and outputs, the finisher
   * is written, and one update sets the request's counts and makes it Pending. Then the units are released.
   * Throws CreationAbandoned (having removed what it wrote) if the sweep took the staged request first.
   */
  async commit(request: RequestDocument, pauses: CreationPauses = {}): Promise<void> {
    const id = this.requestId
    await this.store.jobs.setHeldUnitFields(id, { options: request.options, outputs: request.outputs })
    await this.store.jobs.createFinisher(id, request.units)
    await pauses.beforeCommit?.(id)
    const { request_id: _, created_at: __, status: ___, ...fields } = request
    const committed = await this.store.requests.updateOne(
      { request_id: id, status: 'Staging' },
      { $set: { ...fields, status: 'Pending', updated_at: new Date() } }
    )
    if (committed.matchedCount !== 1) await this.abandoned()
    await pauses.beforeRelease?.(id)
    await this.store.jobs.releaseUnits(id)
  }

  /** Removes everything written, before anyone saw it (the upload was refused); repeatable. */
  async discard(): Promise<void> {
    await this.store.requests.updateOne(
      { request_id: this.requestId, status: 'Staging' },
      { $set: { status: 'Discarded', updated_at: new Date() } }
    )
    await this.store.removeParts(this.requestId)
    await this.store.requests.deleteOne({ request_id: this.requestId, status: 'Discarded' })
  }

  private async abandoned(): Promise<never> {
    await this.store.removeParts(this.requestId)
    throw new CreationAbandoned(`request ${this.requestId} was discarded before its creation completed`)
  }
}

/**
 * Completes or undoes what creations that stopped before `cutoff` left (the API runs this every so often): a
 * request still staged and last written before `cutoff` is Discarded (so its upload, if it still lives, cannot commit it), its parts removed,
 * then the document; a committed request's held units are released; held units with no request are removed.
 * Each step is repeatable: a sweep that dies halfway is finished by the next.
 */
export async function settleCreations(store: CreationParts, cutoff: Date, limit = 100): Promise<CreationsSettled> {
  const settled: CreationsSettled = { discarded: 0, released: 0, orphaned: 0 }
  const stale = await store.requests
    .find({ status: { $in: HIDDEN }, updated_at: { $lt: cutoff } }, { projection: { request_id: 1 }, limit })
    .toArray()
  for (const { request_id } of stale) {
    // The upload's commit and this update both need Staging: whichever comes first wins.
    const taken = await store.requests.updateOne(
      { request_id, status: { $in: HIDDEN } },
      { $set: { status: 'Discarded', updated_at: new Date() } }
    )
    if (taken.matchedCount !== 1) continue
    await store.removeParts(request_id)
    await store.requests.deleteOne({ request_id, status: 'Discarded' })
    settled.discarded++
  }
  for (const request_id of (await store.jobs.heldSince(cutoff)).slice(0, limit)) {
    const doc = await store.requests.findOne({ request_id }, { projection: { status: 1 } })
    if (!doc) {
      await store.removeParts(request_id)
      settled.orphaned++
    } else if (!HIDDEN.includes(doc.status)) {
      await store.jobs.releaseUnits(request_id)
      settled.released++
    }
  }
  return settled
}
