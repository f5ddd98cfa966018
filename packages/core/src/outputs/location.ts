import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where outputs live: a local directory (the embedded default) or a bucket with an optional key prefix. */
export type StorageLocation = { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string }

// S3 bucket naming rules (3-63 chars, lower case, digits, dots, hyphens); anything else is a typo we report now.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/

/**
 * Reads STORAGE_URL (`file:///path` or `s3://bucket/prefix`); without one, STORAGE_DIR is the directory.
 * Throws an Error naming the key; the config loader turns it into its usual refusal.
 */
export function parseStorageUrl(storageUrl: string, storageDir: string): StorageLocation {
  if (storageUrl === '') return { kind: 'file', dir: path.resolve(storageDir) }
  let url: URL
  try {
    url = new URL(storageUrl)
  } catch {
    throw new Error('must be file:///absolute/path or s3://bucket[/prefix]')
  }
  if (url.protocol === 'file:') {
    if (url.host !== '' && url.host !== 'localhost')
      throw new Error('file URLs name a local directory: file:///absolute/path')
    return { kind: 'file', dir: path.resolve(fileURLToPath(url)) }
  }
  if (url.protocol === 's3:') {
    const bucket = url.hostname
    if (!BUCKET.test(bucket)) throw new Error(`"${bucket}" is not a valid bucket name`)
    if (url.search || url.hash || url.username || url.port)
      throw new Error('s3 URLs are s3://bucket[/prefix], without port, query or credentials')
    const prefix = decodeURIComponent(url.pathname).split('/').filter(Boolean).join('/')
    return { kind: 's3', bucket, prefix }
  }
  throw new Error(`scheme "${url.protocol.slice(0, -1)}" is not supported; use file:// or s3://`)
}

export function describeLocation(location: StorageLocation): string {
  return location.kind === 'file'
    ? `file://${location.dir}`
    : `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ''}`
}
