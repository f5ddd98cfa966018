/**
 * The reuse decisions (docs/reuse.md), as pure functions of what the source index and the output index say. Any
 * doubt (no record, an output missing from the index or the storage) means processing the image as if new.
 */

/** How an image's outputs were obtained without compressing it again; absent when it was processed. */
export type ReuseKind = 'not_modified' | 'same_content'

/** What we remember of a tenant's source URL: its validators and the hash of the bytes they describe. */
export interface SourceValidators {
  etag?: string
  last_modified?: string
  sha256: string
}

/**
 * The conditional headers of a download: only when the source is remembered and every output the request needs
 * from its bytes is there to reuse; a 304 is useless otherwise (we would have no bytes to make the rest from).
 */
export function conditionalHeaders(
  source: SourceValidators | null,
  outputsReady: boolean
): Record<string, string> | undefined {
  if (!source || !outputsReady) return undefined
  const headers: Record<string, string> = {}
  if (source.etag) headers['if-none-match'] = source.etag
  if (source.last_modified) headers['if-modified-since'] = source.last_modified
  return Object.keys(headers).length > 0 ? headers : undefined
}

export type Answer = { status: 'not_modified' } | { status: 'ok'; sha256: string }

/**
 * What to do with a download's answer. A 304 reuses only if we asked conditionally (then the outputs were ready);
 * anything else it could mean is doubt: download again, unconditionally. A body reuses when the outputs for its
 * bytes are all there.
 */
export function afterAnswer(
  answer: Answer,
  asked: boolean,
  outputsReadyFor: (sha256: string) => boolean
): { reuse: ReuseKind } | { download: 'again' } | { process: true } {
  if (answer.status === 'not_modified') return asked ? { reuse: 'not_modified' } : { download: 'again' }
  return outputsReadyFor(answer.sha256) ? { reuse: 'same_content' } : { process: true }
}

/** The validators worth remembering from an answer's headers (weak ETags included: we compare whole bytes anyway). */
export function validatorsOf(headers: Record<string, string | string[] | undefined>, sha256: string): SourceValidators {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)
  const etag = one(headers.etag)
  const lastModified = one(headers['last-modified'])
  return {
    sha256,
    ...(etag && etag.length <= 512 && { etag }),
    ...(lastModified && lastModified.length <= 64 && { last_modified: lastModified })
  }
}
