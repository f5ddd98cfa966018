import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'webhook-signature'
export const ID_HEADER = 'webhook-id'
export const SIGNATURE_TOLERANCE_S = 300

export function signPayload(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  const digest = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')
  return `t=${timestamp},v1=${digest}`
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string }

/** Checks `t=…,v1=…` against the raw body: constant-time comparison, and stale timestamps refused (replay). */
export function verifySignature(secret: string, body: string, header: string | undefined, now = Math.floor(Date.now() / 1000)): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing Webhook-Signature header' }
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string]))
  const t = Number(parts.get('t'))
  const v1 = parts.get('v1') ?? ''
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return { ok: false, reason: 'malformed Webhook-Signature header' }
  if (Math.abs(now - t) > SIGNATURE_TOLERANCE_S) return { ok: false, reason: 'signature timestamp is outside the 5 minute tolerance' }
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'), 'hex')
  const given = Buffer.from(v1, 'hex')
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'signature does not match' }
}
