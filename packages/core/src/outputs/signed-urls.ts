import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Output URLs are capabilities: a request id is a random UUID, so its links cannot be guessed. With
 * OUTPUT_URL_TTL_S set they are also signed and expire: `?expires=<unix s>&signature=<hex HMAC>` over the path.
 * The key is derived from WEBHOOK_SECRET (separate purpose label), so there is no second secret to manage.
 */
export interface UrlSigning {
  OUTPUT_URL_TTL_S: number
  WEBHOOK_SECRET: string
}

const signature = (secret: string, path: string, expires: number) =>
  createHmac('sha256', createHmac('sha256', secret).update('imgproc output urls').digest())
    .update(`${path}\n${expires}`)
    .digest('hex')

/** Signs an API URL (absolute) when signing is on; returns it unchanged otherwise. */
export function signOutputUrl(url: string, signing: UrlSigning, nowMs = Date.now()): string {
  if (signing.OUTPUT_URL_TTL_S <= 0) return url
  const parsed = new URL(url)
  const expires = Math.floor(nowMs / 1000) + signing.OUTPUT_URL_TTL_S
  parsed.searchParams.set('expires', String(expires))
  parsed.searchParams.set('signature', signature(signing.WEBHOOK_SECRET, parsed.pathname, expires))
  return parsed.toString()
}

/** null when the request for `path` may be served; otherwise why not. */
export function refuseOutputRequest(
  path: string,
  query: { expires?: string; signature?: string },
  signing: UrlSigning,
  nowMs = Date.now()
): string | null {
  if (signing.OUTPUT_URL_TTL_S <= 0) return null
  const expires = Number(query.expires)
  if (!query.signature || !Number.isSafeInteger(expires))
    return 'this link needs its expires and signature parameters (OUTPUT_URL_TTL_S is set)'
  const expected = Buffer.from(signature(signing.WEBHOOK_SECRET, path, expires), 'hex')
  const given = Buffer.from(query.signature, 'hex')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'the link signature does not match'
  if (expires * 1000 < nowMs) return 'the link has expired; GET /status for fresh links'
  return null
}
