import { createHash, createHmac } from 'node:crypto'
import type { ResolvedOutput } from '../output-sets/spec.ts'
import { EXTENSIONS } from '../outputs/formats.ts'
import type { ProcessingOptions } from '../requests/contracts.ts'

/**
 * Content-addressed outputs (docs/reuse.md): an output's key is `o/<tenant scope>/<name>.<ext>`, the name an HMAC
 * of the source sha256 and the spec hash under the tenant's name key, so the same source bytes made by the same
 * settings for the same tenant are one stored object, with one URL across requests and runs.
 */

/**
 * Bump when the encoder's behaviour changes (sharp/libvips upgrade, encoder table, quality search) or the output
 * keys are named differently: every spec hash changes with it, so outputs are made again instead of reusing what
 * the old encoder made or what is stored under the old names.
 */
export const ENCODER_VERSION = 2

/**
 * A tenant's scope: an HMAC of its id (the request's owner; '' without API keys, one tenant), keyed from
 * WEBHOOK_SECRET under a purpose label. It is in every key and lookup, so tenants never share an output, and it is
 * not guessable, so a content-addressed URL stays a capability even to someone who holds the source image.
 */
export function tenantScope(secret: string, owner: string | undefined): string {
  return tenantHmac(secret, 'imgproc output scope', owner).slice(0, 32)
}

/**
 * A tenant's name key: keys its output file names, under a label of its own. The scope is in every URL the tenant
 * hands out; this key never leaves the worker, so holding one URL does not let anyone compute another from a
 * source image's sha256 and the (public) settings hash.
 */
export function outputNameKey(secret: string, owner: string | undefined): string {
  return tenantHmac(secret, 'imgproc output name', owner)
}

function tenantHmac(secret: string, label: string, owner: string | undefined): string {
  const key = createHmac('sha256', secret).update(label).digest()
  return createHmac('sha256', key)
    .update(owner ?? '')
    .digest('hex')
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
export const CONTENT_FILE_PATTERN = `^[0-9a-f]{64}\\.(${Object.values(EXTENSIONS).join('|')})$`

/** Deterministic (stable URLs), and keyed by `nameKey` (outputNameKey) so it cannot be computed from the source. */
export function contentKey(
  scope: string,
  nameKey: string,
  sha256: string,
  specHash: string,
  extension: string
): string {
  const name = createHmac('sha256', nameKey).update(`${sha256}-${specHash}`).digest('hex')
  return `o/${scope}/${name}.${extension}`
}

/** Whether a storage key is a content-addressed (shared) output rather than a file of one request. */
export function isContentKey(key: string): boolean {
  return key.startsWith('o/')
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
