/** Statuses whose Retry-After is honoured (RFC 9110 §10.2.3): the host says when it can take us again. */
const RETRY_AFTER_STATUS = [429, 503]

/**
 * Retry-After as a wait in milliseconds: delay-seconds or an HTTP date (a date in the past means now); null when
 * absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null
  const text = value.trim()
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000
  // Every HTTP-date form starts with the day's name; Date.parse alone would read "1.5" as a date in 2001.
  const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs)
}

export interface RetryInput {
  /** got's own rules allow another try: attempts left, a retryable status or error code. */
  allowed: boolean
  attempt: number
  status: number | undefined
  retryAfter: string | undefined
}

export type RetryDecision = { waitMs: number } | { refused: { askedMs: number } }

/**
 * When to try a download again. A host's Retry-After on 429 or 503 is waited out in full (never less, plus up to
 * 10% so that parallel downloads do not return together), unless it asks for longer than `maxRetryAfterMs`:
 * then the image is not retried and says why. Otherwise exponential backoff: 1 s, then 2 s, each jittered down
 * to as little as half.
 * `waitMs` 0 means no retry.
 */
export function retryDecision(
  input: RetryInput,
  maxRetryAfterMs: number,
  nowMs: number,
  random: number
): RetryDecision {
  if (!input.allowed) return { waitMs: 0 }
  const asked =
    input.status !== undefined && RETRY_AFTER_STATUS.includes(input.status)
      ? parseRetryAfter(input.retryAfter, nowMs)
      : null
  if (asked !== null) {
    if (asked > maxRetryAfterMs) return { refused: { askedMs: asked } }
    return { waitMs: Math.max(1, Math.round(asked * (1 + random / 10))) }
  }
  return { waitMs: Math.round(Math.min(1000 * 2 ** (input.attempt - 1), 2000) * (0.5 + random / 2)) }
}
