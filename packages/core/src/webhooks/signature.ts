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

/** `t=…,v1=…[,v1=…]` parsed, or null when malformed. Several v1 values let a sender roll its secret (as Stripe does). */
export function parseSignatureHeader(header: string | undefined): SignatureHeader | null {
  if (!header) return null
  let t = NaN
  const v1: string[] = []
  for (const part of header.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2)
    if (key === 't') t = /^[0-9]{1,12}$/.test(value) ? Number(value) : NaN
    else if (key === 'v1' && /^[0-9a-f]{64}$/.test(value)) v1.push(value)
  }
  return Number.isInteger(t) && v1.length > 0 ? { t, v1 } : null
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
