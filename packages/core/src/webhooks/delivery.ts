import type { DeliveryAttempt, DeliveryState } from '../requests/schema.ts'
import { gotLib, gotOptions, describeDownloadError } from '../fetch/download.ts'
import { signPayload, SIGNATURE_HEADER, ID_HEADER } from './signature.ts'

export interface DeliverySettings {
  secret: string
  timeoutMs: number
  allowPrivateNetworks: boolean
}

/** Exponential backoff with full jitter: base·2^(n-1) scaled by a random factor in [0.5, 1). */
export function nextDelayMs(attemptsMade: number, baseMs: number, random = Math.random()): number {
  return Math.round(baseMs * 2 ** Math.max(0, attemptsMade - 1) * (0.5 + random / 2))
}

/** One signed POST; never throws — the outcome is an attempt record for the request document. */
export async function postWebhook(url: string, eventId: string, body: string, settings: DeliverySettings): Promise<DeliveryAttempt> {
  const at = new Date()
  const started = performance.now()
  const { got, HTTPError } = await gotLib()
  try {
    const response: { statusCode: number } = await got.post(url, {
      responseType: 'text',
      resolveBodyOnly: false,
      isStream: false,
      ...gotOptions({ maxBytes: 0, timeoutMs: settings.timeoutMs, retries: 0, maxRedirects: 0, allowPrivateNetworks: settings.allowPrivateNetworks }),
      followRedirect: false,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'imgproc-webhooks/0.1',
        [SIGNATURE_HEADER]: signPayload(settings.secret, body),
        [ID_HEADER]: eventId
      }
    }) as { statusCode: number }
    return { at, status_code: response.statusCode, duration_ms: Math.round(performance.now() - started) }
  } catch (err) {
    const duration_ms = Math.round(performance.now() - started)
    if (err instanceof HTTPError) return { at, status_code: err.response.statusCode, error: `HTTP ${err.response.statusCode}`, duration_ms }
    return { at, error: describeDownloadError(err, { maxBytes: 0, timeoutMs: settings.timeoutMs, maxRedirects: 0 }), duration_ms }
  }
}

export function isDelivered(attempt: DeliveryAttempt): boolean {
  return attempt.status_code !== undefined && attempt.status_code >= 200 && attempt.status_code < 300
}

/** After attempt number `made`: delivered on a 2xx, given up after `maxAttempts`, otherwise tried again later. */
export function deliveryState(attempt: DeliveryAttempt, made: number, maxAttempts: number): DeliveryState {
  if (isDelivered(attempt)) return 'delivered'
  return made >= maxAttempts ? 'failed' : 'pending'
}
