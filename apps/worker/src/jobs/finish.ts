import {
  deliveryUrl,
  isFinal,
  type Metrics,
  objectMeta,
  outputCsv,
  outputCsvKey,
  outputRow,
  type RequestDocument,
  type RequestStore,
  type UrlSettings,
  type VisibleRequest
} from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import type { JobContext, Processor } from './contract.ts'

export interface FinishDeps {
  store: RequestStore
  storage: Storage
  urls: UrlSettings
  metrics: Metrics
  /** A pause after the claim, before the output CSV (crash tests; none otherwise). */
  beforeCsv?: (requestId: string) => Promise<void>
  /** A pause after a cancelled request's CSV is settled, before its event is queued (race tests; none otherwise). */
  afterSettle?: (requestId: string) => Promise<void>
}

/**
 * A request's finisher: due once every unit has arrived, so exactly one exists and one worker holds it at a
 * time. Writes the output CSV, makes the one transition to Completed, and queues the webhook delivery. Each
 * step can be repeated by a later run if this one dies halfway. A cancelled request's finisher is due at once:
 * it writes the CSV of what was done and queues request.cancelled instead.
 */
export function finishProcessor(deps: FinishDeps): Processor<Record<string, never>> {
  return {
    kind: 'finish',
    concurrency: 1,
    async process(ctx) {
      const requestId = ctx.requestId!
      let doc = await deps.store.find(requestId)
      if (!doc) return { kind: 'failed', reason: 'the request document does not exist (its upload never completed)' }
      await deps.beforeCsv?.(requestId)
      if (doc.status === 'Pending' || doc.status === 'Processing') {
        const summary = await deps.store.unitsSummary(doc)
        // Every unit arrived, so every image is recorded; if not, a unit's data is still landing: look again soon.
        if (summary.pending > 0) {
          ctx.log.warn('finisher found images not yet recorded; retrying shortly')
          return { kind: 'retry', at: new Date(Date.now() + 1000) }
        }
        const output_csv = await writeCsv(deps, ctx, doc)
        if (await deps.store.finish(requestId, { status: 'Completed', images: summary, output_csv })) {
          ctx.log.info({ succeeded: summary.succeeded, failed: summary.failed }, 'request completed')
          deps.metrics.requestsFinished.inc({ status: 'Completed' })
        }
        doc = (await deps.store.find(requestId)) ?? doc // it may have been cancelled meanwhile
      }
      if (doc.status === 'Cancelled' && !doc.output_csv) {
        // Its units were cancelled, so nobody records anything more: the CSV covers what was done, and images
        // not done get empty slots.
        const summary = await deps.store.unitsSummary(doc)
        const output_csv = await writeCsv(deps, ctx, doc)
        if (await deps.store.settleCancelled(requestId, { images: summary, output_csv })) {
          ctx.log.info({ succeeded: summary.succeeded, failed: summary.failed }, 'request cancelled')
          deps.metrics.requestsFinished.inc({ status: 'Cancelled' })
        }
        await deps.afterSettle?.(requestId)
        // The event is of what was just written: a retry may already have moved the request on (it may once the
        // CSV exists), and its round's event must still be sent.
        doc = { ...doc, images: summary, output_csv }
      }
      await queueDelivery(deps.store, doc)
      return { kind: 'done' }
    },
    async exhausted(ctx, reason) {
      const requestId = ctx.requestId!
      const doc = await deps.store.find(requestId)
      if (!doc) return { kind: 'failed', reason }
      if (
        await deps.store.finish(requestId, {
          status: 'Failed',
          images: await deps.store.unitsSummary(doc),
          error: reason
        })
      )
        deps.metrics.requestsFinished.inc({ status: 'Failed' })
      await queueDelivery(deps.store, (await deps.store.find(requestId)) ?? doc)
      return { kind: 'failed', reason }
    }
  }
}

/**
 * The output CSV of the request's round, stored once: a finisher repeating this after a crash finds it there and
 * writes nothing (put answers 'exists' if another write got in first). Streamed from the database a page at a
 * time, so the finisher's memory does not grow with the request. Returns its URL.
 */
async function writeCsv(deps: FinishDeps, ctx: JobContext<unknown>, doc: RequestDocument): Promise<string> {
  const key = outputCsvKey(doc.request_id, doc.round)
  if (ctx.resumed) await deps.storage.removeStale([key])
  // The job must still be this run's right before the one write that is not a database update.
  await ctx.save()
  if (!(await deps.storage.stat(key))) {
    // With `outputs`, each output after the first gets a column of its own.
    const more = doc.outputs?.slice(1).map((o) => o.name) ?? []
    const rows = outputCsv(
      mapRows(deps.store.rowsInOrder(doc), ({ product, images }) => outputRow(product, images, deps.urls, more)),
      more
    )
    if ((await deps.storage.put(key, rows, objectMeta(key))) === 'created') ctx.log.info('output csv written')
  }
  return deliveryUrl(deps.urls, key)
}

async function* mapRows<T, U>(rows: AsyncIterable<T>, fn: (row: T) => U): AsyncGenerator<U> {
  for await (const row of rows) yield fn(row)
}

/** The event of the round that just ended: request.completed (Completed or Failed) or request.cancelled. */
async function queueDelivery(store: RequestStore, doc: VisibleRequest): Promise<void> {
  if (!doc.webhook_url || !isFinal(doc.status)) return
  const { request_id, status, images, output_csv, completed_at, round } = doc
  await store.jobs.queueDelivery(
    { request_id, status, images, output_csv, completed_at, round },
    doc.webhook_url,
    status === 'Cancelled' ? 'request.cancelled' : 'request.completed'
  )
}
