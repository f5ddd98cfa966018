import { type DeliveryAttempt, type DeliveryState, ID_HEADER, SIGNATURE_HEADER, signPayload } from '@imgproc/core'
import { type DownloadError, gotLib, gotOptions, toDownloadError } from '../fetch/download.ts'

export interface DeliverySettings {
  secret: string
  timeoutMs: number
  allowPrivateNetworks: boolean
}

/** Exponential backoff with full jitter: base·2^(n-1) scaled by a random factor in [0.5, 1). */
export function nextDelayMs(attemptsMade: number, baseMs: number, random = Math.random()): number {
  return Math.round(baseMs * 2 ** Math.max(0, attemptsMade - 1) * (0.5 + random / 2))
}

/** An attempt record; `permanent` when our own URL policy refused the receiver, so trying again cannot help. */
export type WebhookAttempt = DeliveryAttempt & { permanent?: true }

/**
 * One signed POST; never throws — the outcome is an attempt record for the request document. Only the status
 * line and headers are read: the reply body is never read or decompressed (a receiver could answer with a
 * gzip bomb or an endless body), and the connection is closed as soon as the status is known.
 */
export async function postWebhook(
  url: string,
  eventId: string,
  body: string,
  settings: DeliverySettings
): Promise<WebhookAttempt> {
  const at = new Date()
  const started = performance.now()
  const { got } = await gotLib()
  const limits = {
    maxBytes: 0,
    timeoutMs: settings.timeoutMs,
    retries: 0,
    maxRedirects: 0,
    allowPrivateNetworks: settings.allowPrivateNetworks
  }
  let stream: ReturnType<typeof got.stream> | undefined
  try {
    stream = got.stream.post(url, {
      ...gotOptions(limits),
      isStream: true,
      followRedirect: false,
      decompress: false,
      throwHttpErrors: false,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'imgproc-webhooks/0.1',
        'accept-encoding': 'identity',
        [SIGNATURE_HEADER]: signPayload(settings.secret, body),
        [ID_HEADER]: eventId
      }
    })
    const statusCode = await new Promise<number>((resolve, reject) => {
      stream!.once('response', (response: { statusCode: number }) => resolve(response.statusCode))
      stream!.once('error', reject)
    })
    const duration_ms = Math.round(performance.now() - started)
    return statusCode >= 200 && statusCode < 300
      ? { at, status_code: statusCode, duration_ms }
      : { at, status_code: statusCode, error: `HTTP ${statusCode}`, duration_ms }
  } catch (err) {
    const failure = toDownloadError(err, limits)
    return {
      at,
      error: deliveryError(err, failure, settings.timeoutMs),
      duration_ms: Math.round(performance.now() - started),
      ...(failure.kind === 'refused_private_network' ? { permanent: true as const } : {})
    }
  } finally {
    stream?.destroy()
  }
}

/**
 * Why a POST reached no answer, in the receiver's terms: got's failure is classified like a download's, but the
 * sentence must not read as an image download (it used to say "download failed: ECONNREFUSED …").
 */
function deliveryError(err: unknown, failure: DownloadError, timeoutMs: number): string {
  if (failure.kind === 'refused_private_network') return failure.message
  if (failure.kind === 'timeout') return `delivery timed out: no answer within ${timeoutMs} ms (WEBHOOK_TIMEOUT_MS)`
  const { code = '', message = String(err) } = err as { code?: string; message?: string }
  return `delivery failed: ${message.includes(code) ? message : `${code} ${message}`}` // "connect ECONNREFUSED …"
}

export function isDelivered(attempt: DeliveryAttempt): boolean {
  return attempt.status_code !== undefined && attempt.status_code >= 200 && attempt.status_code < 300
}

/**
 * After attempt number `made`: delivered on a 2xx, given up at once when refused by policy (a private address
 * stays private) or after `maxAttempts`, otherwise tried again later.
 */
export function deliveryState(attempt: WebhookAttempt, made: number, maxAttempts: number): DeliveryState {
  if (isDelivered(attempt)) return 'delivered'
  return attempt.permanent || made >= maxAttempts ? 'failed' : 'pending'
}
