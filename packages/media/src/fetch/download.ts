import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { hostLiteral, refuseAddress, refuseResolvedName } from '@imgproc/core'
import type { OptionsInit } from 'got'
import { retryDecision } from './retry.ts'

/** got is loaded on first use, like sharp. (Only workers depend on this package; the API never reaches it.) */
let gotModule: typeof import('got') | null = null
export async function gotLib(): Promise<typeof import('got')> {
  gotModule ??= await import('got')
  return gotModule
}

export interface DownloadLimits {
  maxBytes: number
  timeoutMs: number
  retries: number
  maxRedirects: number
  allowPrivateNetworks: boolean
  /** The longest Retry-After (429, 503) waited out; a longer one fails the image (DOWNLOAD_MAX_RETRY_AFTER_S). */
  maxRetryAfterMs?: number
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 30_000

/** Why a download failed, as a fixed vocabulary (metrics labels, dashboards, retry policy); the message is for people. */
export type DownloadFailureKind =
  | 'http_4xx'
  | 'http_5xx'
  | 'timeout'
  | 'too_large'
  | 'redirects'
  | 'refused_private_network'
  | 'retry_after_limit'
  | 'network'

export class DownloadError extends Error {
  override name = 'DownloadError'
  constructor(
    readonly kind: DownloadFailureKind,
    message: string
  ) {
    super(message)
  }
}

// Only transient failures are worth another try; 4xx answers are final.
const RETRY_STATUS = [408, 425, 429, 500, 502, 503, 504]
const RETRY_ERRORS = ['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']

/**
 * A lookup that only ever hands the socket addresses it has checked, so a DNS name that resolves to a private
 * address is refused at connect time rather than merely at upload time.
 */
function guardedLookup(hostname: string, options: object, callback: (...args: unknown[]) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err)
    if (addresses.some((a) => refuseAddress(a.address)))
      return callback(Object.assign(new Error(refuseResolvedName(hostname)), { code: 'EREFUSED_PRIVATE' }))
    const all = (options as { all?: boolean }).all
    if (all) callback(null, addresses)
    else callback(null, addresses[0]!.address, addresses[0]!.family)
  })
}

function refuseLiteral(url: URL): void {
  const literal = hostLiteral(url.hostname)
  const refused = literal ? refuseAddress(literal) : null
  if (refused) throw new DownloadError('refused_private_network', refused)
}

/**
 * Connections kept alive between downloads: a catalogue's images mostly come from a few hosts, and a connection
 * per image costs a TCP (and TLS) set-up each. Node 20's global agent keeps them alive too, but shares them with
 * everything: these pools are ours, and there are two, so a connection opened where private networks are allowed
 * is never handed to a download where they are not (a reused socket skips the lookup that checks its address).
 */
const agents = {
  guarded: { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) },
  open: { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) }
}

export function gotOptions(limits: DownloadLimits): OptionsInit {
  return {
    agent: limits.allowPrivateNetworks ? agents.open : agents.guarded,
    timeout: {
      lookup: 5000,
      connect: 5000,
      secureConnect: 5000,
      response: limits.timeoutMs,
      request: limits.timeoutMs
    },
    followRedirect: true,
    maxRedirects: limits.maxRedirects,
    retry: {
      limit: limits.retries,
      methods: ['GET', 'POST'],
      statusCodes: RETRY_STATUS,
      errorCodes: RETRY_ERRORS,
      maxRetryAfter: Number.POSITIVE_INFINITY, // got's "0" then means only "not retryable"; the cap is ours
      calculateDelay: ({ attemptCount, error, computedValue }) => {
        const maxMs = limits.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS
        const decision = retryDecision(
          {
            allowed: computedValue !== 0,
            attempt: attemptCount,
            status: error.response?.statusCode,
            retryAfter: error.response?.headers['retry-after']
          },
          maxMs,
          Date.now(),
          Math.random()
        )
        if ('waitMs' in decision) return decision.waitMs
        // Thrown here, got ends the request with this as the cause: the image fails with the host's answer.
        throw new DownloadError(
          'retry_after_limit',
          `HTTP ${error.response!.statusCode}: the host asked us to retry after ${Math.ceil(decision.refused.askedMs / 1000)} s (Retry-After), longer than the ${maxMs / 1000} s we wait (DOWNLOAD_MAX_RETRY_AFTER_S)`
        )
      }
    },
    ...(limits.allowPrivateNetworks
      ? {}
      : {
          dnsLookup: guardedLookup as OptionsInit['dnsLookup'],
          hooks: {
            beforeRequest: [(options) => refuseLiteral(options.url as URL)],
            beforeRedirect: [(options) => refuseLiteral(options.url as URL)]
          }
        }),
    headers: { 'user-agent': 'imgproc/0.1 (+bulk image compression)' }
  }
}

/** A download's answer: the bytes and their headers, or 304 to a conditional request (`conditions`). */
export type SourceAnswer =
  | { status: 'not_modified' }
  | { status: 'ok'; body: Buffer; headers: Record<string, string | string[] | undefined> }

/**
 * Downloads a URL into one buffer, stopping at `maxBytes` whatever Content-Length says, and retrying transient
 * failures with backoff. Errors are rewritten into a short reason a customer can act on.
 */
export async function downloadImage(url: string, limits: DownloadLimits): Promise<Buffer> {
  const answer = await fetchSource(url, limits)
  return answer.status === 'ok' ? answer.body : Buffer.alloc(0)
}

/**
 * downloadImage, with conditional headers (If-None-Match, If-Modified-Since) when the source's validators are
 * remembered: a 304 then means the bytes we made its outputs from are still current.
 */
export async function fetchSource(
  url: string,
  limits: DownloadLimits,
  conditions?: Record<string, string>
): Promise<SourceAnswer> {
  const { got } = await gotLib()
  const options = gotOptions(limits)
  const request = got(url, {
    ...options,
    ...(conditions && { headers: { ...(options.headers as Record<string, string>), ...conditions } }),
    responseType: 'buffer',
    resolveBodyOnly: false,
    isStream: false
  })
  // got's cancel error only says "Promise was canceled", so the reason is kept here to name the limit.
  let tooLarge = false
  request.on('downloadProgress', (progress: { transferred: number; total?: number }) => {
    if (progress.transferred > limits.maxBytes || (progress.total ?? 0) > limits.maxBytes) {
      tooLarge = true
      request.cancel()
    }
  })
  try {
    const response = await request
    if (response.statusCode === 304) return { status: 'not_modified' }
    return { status: 'ok', body: response.body, headers: response.headers }
  } catch (err) {
    throw tooLarge ? new DownloadError('too_large', tooLargeMessage(limits.maxBytes)) : toDownloadError(err, limits)
  }
}

export function tooLargeMessage(maxBytes: number): string {
  return `download too large: the image is larger than the ${maxBytes}-byte limit (MAX_DOWNLOAD_BYTES)`
}

/** A got failure as a DownloadError: its kind decided from got's error class and code, its message for people. */
export function toDownloadError(
  err: unknown,
  limits: Pick<DownloadLimits, 'maxBytes' | 'timeoutMs' | 'maxRedirects'>
): DownloadError {
  if (err instanceof DownloadError) return err
  const lib = gotModule // a got error can only exist once got has been loaded
  if (lib && err instanceof lib.HTTPError) {
    const status = err.response.statusCode
    return new DownloadError(
      status >= 500 ? 'http_5xx' : 'http_4xx',
      `HTTP ${status} ${err.response.statusMessage ?? ''}`.trim()
    )
  }
  if (err instanceof Error && err.name === 'CancelError')
    return new DownloadError('too_large', tooLargeMessage(limits.maxBytes))
  if (lib && err instanceof lib.RequestError) {
    // A refusal thrown by our own hooks or lookup arrives wrapped; its own error is the cause.
    const inner = (err as { cause?: unknown }).cause
    if (inner instanceof DownloadError) return inner
    if (err.code === 'ERR_TOO_MANY_REDIRECTS')
      return new DownloadError('redirects', `too many redirects (more than ${limits.maxRedirects})`)
    if (err.code === 'ETIMEDOUT')
      return new DownloadError(
        'timeout',
        `download timed out (${err.message.replace(/^Timeout awaiting '(\w+)'.*/, '$1 deadline')}; limit ${limits.timeoutMs} ms)`
      )
    if (err.code === 'EREFUSED_PRIVATE')
      return new DownloadError('refused_private_network', err.message.replace(/^.*?(refused: )/, '$1'))
    return new DownloadError('network', `download failed: ${err.code ?? ''} ${err.message}`.trim())
  }
  return new DownloadError('network', `download failed: ${err instanceof Error ? err.message : String(err)}`)
}
