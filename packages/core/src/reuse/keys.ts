import { createHash, createHmac } from 'node:crypto'
import type { ResolvedOutput } from '../output-sets/spec.ts'
import { EXTENSIONS } from '../outputs/formats.ts'
import type { ProcessingOptions } from '../requests/contracts.ts'

/**
 * Content-addressed outputs (docs/reuse.md): an output's key is `o/<tenant scope>/<source sha256>-<spec hash>.<ext>`,
 * so the same source bytes made by the same settings for the same tenant are one stored object, with one URL
 * across requests and runs.
 */

/**
 * Bump when the encoder's behaviour changes (sharp/libvips upgrade, encoder table, quality search): every spec hash
 * changes with it, so outputs are made again instead of reusing what the old encoder made.
 */
export const ENCODER_VERSION = 1

/**
 * A tenant's scope: an HMAC of its id (the request's owner; '' without API keys, one tenant), keyed from
 * WEBHOOK_SECRET under a purpose label. It is in every key and lookup, so tenants never share an output, and it is
 * not guessable, so a content-addressed URL stays a capability even to someone who holds the source image.
 */
export function tenantScope(secret: string, owner: string | undefined): string {
  const key = createHmac('sha256', secret).update('imgproc output scope').digest()
  return createHmac('sha256', key)
    .update(owner ?? '')
    .digest('hex')
    .slice(0, 32)
}

/** JSON with object keys sorted at every level: the same settings always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`
  return JSON.stringify(value)
}

const hash16 = (what: unknown) => createHash('sha256').update(canonicalJson(what)).digest('hex').slice(0, 16)

/** What decides a single-output request's output: its processing options and the encoder version. */
export function optionsHash(options: ProcessingOptions): string {
  const { quality, format, max_width, max_height, mozjpeg } = options
  return hash16({ v: ENCODER_VERSION, single: { quality, format, max_width, max_height, mozjpeg } })
}

/**
 * What decides one output of a set: its resolved spec without its name and preset (labels, not settings), and the
 * encoder version. Two requests naming the same output differently share it.
 */
export function outputSpecHash(output: ResolvedOutput): string {
  const { name: _name, preset: _preset, ...spec } = output
  return hash16({ v: ENCODER_VERSION, output: spec })
}

export const CONTENT_SCOPE_PATTERN = '^[0-9a-f]{32}$'
export const CONTENT_FILE_PATTERN = `^[0-9a-f]{64}-[0-9a-f]{16}\\.(${Object.values(EXTENSIONS).join('|')})$`

export function contentKey(scope: string, sha256: string, specHash: string, extension: string): string {
  return `o/${scope}/${sha256}-${specHash}.${extension}`
}

/** Whether a storage key is a content-addressed (shared) output rather than a file of one request. */
export function isContentKey(key: string): boolean {
  return key.startsWith('o/')
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
