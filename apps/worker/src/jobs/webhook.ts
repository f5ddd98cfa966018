import {
  type Config,
  type DeliveryData,
  deliveryAttempted,
  deliveryGivenUp,
  type Metrics,
  type RequestStore,
  webhookEvent
} from '@imgproc/core'
import { deliveryState, nextDelayMs, postWebhook } from '@imgproc/media'
import type { Processor } from './contract.ts'

export interface WebhookDeps {
  store: RequestStore
  config: Pick<
    Config,
    | 'WEBHOOK_SECRET'
    | 'WEBHOOK_TIMEOUT_MS'
    | 'WEBHOOK_MAX_ATTEMPTS'
    | 'WEBHOOK_BACKOFF_MS'
    | 'ALLOW_PRIVATE_NETWORKS'
    | 'PUBLIC_BASE_URL'
    | 'STORAGE_PUBLIC_URL'
    | 'OUTPUT_URL_TTL_S'
  >
  concurrency: number
  metrics: Metrics
}

/** One delivery attempt per claim: POST the signed event, record the attempt, then retry later, finish or give up. */
export function webhookProcessor(deps: WebhookDeps): Processor<DeliveryData> {
  const { config } = deps
  return {
    kind: 'webhook',
    concurrency: deps.concurrency,
    async process(ctx) {
      const delivery = ctx.data
      const doc = await deps.store.find(ctx.requestId!)
      if (!doc) return { kind: 'failed', reason: 'the request was removed before its webhook was delivered' }
      const attempt = await postWebhook(
        delivery.url,
        delivery.event_id,
        // The request as it was when the event was queued (a retry may have moved it on since).
        JSON.stringify(webhookEvent(delivery.request ?? doc, delivery.event_id, config, delivery.type)),
        {
          secret: config.WEBHOOK_SECRET,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS
        }
      )
      const made = delivery.attempts.length + 1
      const state = deliveryState(attempt, made, config.WEBHOOK_MAX_ATTEMPTS)
      deps.metrics.webhookDeliveries.inc({ outcome: state === 'pending' ? 'retry' : state })
      ctx.log.info(
        { event_id: delivery.event_id, attempt: made, status_code: attempt.status_code, error: attempt.error, state },
        'webhook attempt'
      )
      const record = deliveryAttempted(delivery, attempt, state)
      if (state === 'delivered') return { kind: 'done', record }
      if (state === 'failed')
        return {
          kind: 'failed',
          reason: attempt.permanent ? `not retried: ${attempt.error}` : `gave up after ${made} attempts`,
          record
        }
      return { kind: 'retry', at: new Date(Date.now() + nextDelayMs(made, config.WEBHOOK_BACKOFF_MS)), record }
    },
    async exhausted(_ctx, reason) {
      return { kind: 'failed', reason, record: deliveryGivenUp() }
    }
  }
}
