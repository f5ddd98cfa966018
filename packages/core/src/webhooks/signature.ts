import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'webhook-signature'
export const ID_HEADER = 'webhook-id'
export const SIGNATURE_TOLERANCE_S = 300

export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return `t=${timestamp},v1=${digest}`
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string }

export interface SignatureHeader {
  t: number
  v1: string[]
}

/** A v1 value exactly as signPayload writes it: an HMAC-SHA256 in lowercase hex, nothing before or after. */
const V1 = /^[0-9a-f]{64}$/

/**
 * `t=…,v1=…[,v1=…]` parsed, or null when malformed. Several v1 values let a sender roll its secret (as Stripe
 * does); unknown schemes are ignored, but a v1 that is not exactly 64 lowercase hex digits, or a second `t`,
 * makes the whole header malformed (a lenient reading would accept an altered signature).
 */
export function parseSignatureHeader(header: string | undefined): SignatureHeader | null {
  if (!header) return null
  let t: number | undefined
  const v1: string[] = []
  for (const part of header.split(',')) {
    const at = part.indexOf('=')
    const key = part.slice(0, at).trim()
    const value = part.slice(at + 1).trim()
    if (at < 0) return null
    if (key === 't') {
      if (t !== undefined || !/^[0-9]{1,12}$/.test(value)) return null
      t = Number(value)
    } else if (key === 'v1') {
      if (!V1.test(value)) return null
      v1.push(value)
    }
  }
  return t !== undefined && v1.length > 0 ? { t, v1 } : null
}

/** Checks the header against the raw body: constant-time comparison, any v1 may match, stale timestamps refused (replay). */
export function verifySignature(
  secret: string,
  body: string,
  header: string | undefined,
  now = Math.floor(Date.now() / 1000)
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Webhook-Signature header' }
  const parsed = parseSignatureHeader(header)
  if (!parsed) return { ok: false, reason: 'malformed Webhook-Signature header' }
  if (Math.abs(now - parsed.t) > SIGNATURE_TOLERANCE_S)
    return { ok: false, reason: 'signature timestamp is outside the 5 minute tolerance' }
  const expected = createHmac('sha256', secret).update(`${parsed.t}.${body}`).digest()
  // Every candidate is compared (no early exit), so timing does not tell which one matched.
  const matches = parsed.v1.map((v1) => timingSafeEqual(expected, Buffer.from(v1, 'hex'))).filter(Boolean).length
  return matches > 0 ? { ok: true } : { ok: false, reason: 'signature does not match' }
}
