import type { StorageErrorKind } from './port.ts'

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE'
])
// XAdminUserNotFound: versitygw's answer (a 404) to an access key it does not know; AWS says InvalidAccessKeyId.
const DENIED_NAMES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'CredentialsProviderError',
  'XAdminUserNotFound'
])

/** Sorts an SDK failure into what an operator must fix. Every kind is an outage: none is the stored image's fault. */
export function classifyS3Error(err: unknown): StorageErrorKind {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } }
  const status = e.$metadata?.httpStatusCode
  if (e.name === 'NoSuchBucket') return 'missing-bucket'
  if (status === 401 || status === 403 || DENIED_NAMES.has(e.name ?? '')) return 'denied'
  if (status === 507 || e.name === 'QuotaExceeded') return 'full'
  if (NETWORK_CODES.has(e.code ?? '') || NETWORK_CODES.has(e.name ?? '') || e.name === 'TimeoutError')
    return 'unreachable'
  return 'failed'
}
