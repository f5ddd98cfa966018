import { deliveryState, nextDelayMs, postWebhook, webhookEvent, type Config, type Metrics, type RequestDocument, type RequestRepository } from '@imgproc/core'
import type { Logger } from 'pino'

/** One due delivery: POST the signed event, record the attempt, schedule the next one or give up. Returns when to retry. */
export async function deliverWebhook(doc: RequestDocument, config: Config, repo: RequestRepository, owner: string, log: Logger, metrics: Metrics): Promise<Date | null> {
  const delivery = doc.webhook!
  const body = JSON.stringify(webhookEvent(doc, delivery.event_id))
  const attempt = await postWebhook(doc.webhook_url!, delivery.event_id, body, {
    secret: config.WEBHOOK_SECRET,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS
  })
  const made = delivery.attempts.length + 1
  const state = deliveryState(attempt, made, config.WEBHOOK_MAX_ATTEMPTS)
  const next = new Date(Date.now() + nextDelayMs(made, config.WEBHOOK_BACKOFF_MS))
  await repo.recordDelivery(doc.request_id, owner, attempt, state, next)
  metrics.webhookDeliveries.inc({ outcome: state === 'pending' ? 'retry' : state })
  log.info({ event_id: delivery.event_id, attempt: made, status_code: attempt.status_code, error: attempt.error, state }, 'webhook attempt')
  return state === 'pending' ? next : null
}
