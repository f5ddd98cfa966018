import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Output URLs are capabilities: a request id is a random UUID, so its links cannot be guessed. With
 * OUTPUT_URL_TTL_S set they are also signed and expire: `?expires=<unix s>&signature=<hex HMAC>` over the object's
 * canonical path (`outputPath`), so neither the base URL, a proxy's prefix nor the spelling of a request (encoded
 * characters, absolute form) decides what a signature covers. The key is derived from WEBHOOK_SECRET (separate
 * purpose label), so there is no second secret to manage.
 */
export interface UrlSigning {
  OUTPUT_URL_TTL_S: number
  WEBHOOK_SECRET: string
}

const signature = (secret: string, path: string, expires: number) =>
  createHmac('sha256', createHmac('sha256', secret).update('imgproc output urls').digest())
    .update(`${path}\n${expires}`)
    .digest('hex')

/** Appends `expires` and `signature` for `path` to `url` when signing is on; returns `url` unchanged otherwise. */
export function signOutputUrl(url: string, path: string, signing: UrlSigning, nowMs = Date.now()): string {
  if (signing.OUTPUT_URL_TTL_S <= 0) return url
  const parsed = new URL(url)
  const expires = Math.floor(nowMs / 1000) + signing.OUTPUT_URL_TTL_S
  parsed.searchParams.set('expires', String(expires))
  parsed.searchParams.set('signature', signature(signing.WEBHOOK_SECRET, path, expires))
  return parsed.toString()
}

/** null when a request for the object at canonical `path` may be served; otherwise why not. */
export function refuseOutputRequest(
  path: string,
  query: { expires?: string | undefined; signature?: string | undefined },
  signing: UrlSigning,
  nowMs = Date.now()
): string | null {
  if (signing.OUTPUT_URL_TTL_S <= 0) return null
  if (!query.signature || !query.expires)
    return 'this link needs its expires and signature parameters (OUTPUT_URL_TTL_S is set)'
  // Exactly what signOutputUrl writes: hex decoding would otherwise ignore upper case and anything appended.
  if (!/^[0-9]{1,12}$/.test(query.expires) || !/^[0-9a-f]{64}$/.test(query.signature))
    return 'the link signature does not match'
  const expires = Number(query.expires)
  const expected = Buffer.from(signature(signing.WEBHOOK_SECRET, path, expires), 'hex')
  if (!timingSafeEqual(Buffer.from(query.signature, 'hex'), expected)) return 'the link signature does not match'
  if (expires * 1000 < nowMs) return 'the link has expired; GET /status for fresh links'
  return null
}
