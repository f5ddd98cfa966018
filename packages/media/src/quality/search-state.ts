import type { RgbImage, Scorer } from '@imgproc/ssimulacra2'
import type Sharp from 'sharp'
import { type Alternative, alternativeOf, type Encoding, encodeAs } from '../compress/encoder.ts'
import { type FullSizeScoring, fullSizeScorer, fullSizeScoring } from './full-size.ts'
import type { Found, SearchHints } from './hints.ts'
import { mosaicOptimism } from './mosaic.ts'
import { type RawImage, rawInput } from './pixels.ts'
import { prepareReferences, type SearchReferences, type SharedReferences } from './references.ts'
import type { Trial } from './search.ts'

/**
 * What one quality search (auto.ts) reads and holds: its encoding, pixels, scorers and hint, set up once by
 * `prepare` (sharing a set's references per size), and the outcomes its steps pass on.
 */

/** What every encoding of one search shares: the format and the customer's mozjpeg choice. */
export type AutoEncoding = Pick<Encoding, 'format' | 'mozjpeg'>

/**
 * What the searches of one output set share: the references of each size (references.ts), and what each search
 * found, so the format's next one is carried from it (hints.ts).
 */
export interface SetSearches {
  references: SharedReferences
  hints: SearchHints
}

/** What every step of one image's search reads: set up once by `prepare`, never changed. */
export interface Search {
  sharp: typeof Sharp
  encoding: AutoEncoding
  alternative: Alternative | null
  floor: number
  raw: RawImage
  scoring: FullSizeScoring
  /** What proxy trials encode: the mosaic, a downscale of a thin image, or a small image itself. */
  proxy: RawImage
  /** How far the proxy's scores are expected above the full size's (the mosaic's; 0 for the others). */
  optimism: number
  proxyScorer: Scorer<[RgbImage]>
  /** Null for a small image: its proxy trials are its full-size ones. */
  fullScorer: Scorer<[RgbImage, number]> | null
  /** What the set's search of this format at the nearest other size found (hints.ts), if any. */
  hint: Found | undefined
  /** Releases what this search prepared for itself (not what it shares with the set). */
  release(): void
}

/** One encoder setting's trials: the proxy's, the full size's, the outputs that may be delivered, the best. */
export interface Outcome {
  alternative: boolean
  proxyTrials: Trial[]
  fullTrials: Trial[]
  outputs: Map<number, Buffer>
  trial: Trial
  met: boolean
}

/** The search so far: the outcome it would deliver, and every proxy search made (the default setting's first). */
export interface Searched {
  best: Outcome
  proxies: Outcome[]
}

/** The proxy and the references and scorers of both sizes: the set's shared ones when in a set. */
export async function prepare(
  sharp: typeof Sharp,
  raw: RawImage,
  encoding: AutoEncoding,
  floor: number,
  set: SetSearches | undefined
): Promise<Search> {
  const scoring = fullSizeScoring(raw.width, raw.height, raw.channels, floor)
  const references: SearchReferences = set ? await set.references.of(sharp, raw) : await prepareReferences(sharp, raw)
  // A sampled scorer keeps the windows its own trials chose: always this search's own.
  const sampledScorer = scoring.sampled ? fullSizeScorer(references.reference, true) : null
  return {
    sharp,
    encoding,
    alternative: alternativeOf(encoding.format),
    floor,
    raw,
    scoring,
    proxy: references.proxy,
    optimism: references.tiled ? mosaicOptimism(scoring.required, raw.width * raw.height) : 0,
    proxyScorer: references.proxyScorer,
    fullScorer: sampledScorer ?? references.wholeScorer,
    hint: set?.hints.hint(encoding.format, floor, raw.width * raw.height),
    release: () => {
      sampledScorer?.release()
      if (!set) references.release()
    }
  }
}

/** An encode of `image` at `quality` with auto's setting or the format's alternative. */
export const encodeTrial = (search: Search, image: RawImage, quality: number, alternative: boolean): Promise<Buffer> =>
  encodeAs(rawInput(search.sharp, image), {
    ...search.encoding,
    quality,
    setting: alternative ? 'alternative' : 'auto'
  }).toBuffer()
