import { type RgbImage, type Scorer, scorerFor } from '@imgproc/ssimulacra2'
import type Sharp from 'sharp'
import { fullSizeScoring } from './full-size.ts'
import { canTile, mosaic, PROXY_PIXELS } from './mosaic.ts'
import { downscale, flattenRaw, type RawImage } from './pixels.ts'

/**
 * What a search prepares of the pixels it encodes, before any trial: the proxy, the metric's prepared reference
 * of the proxy and, for an image scored whole, of the image itself. None of it depends on the format, so in an
 * output set the formats at one size share it (`SharedReferences`): preparing a reference is about half of
 * scoring a trial against it, and a width's three formats prepared it three times.
 *
 * A sampled image's scorer is not shared: it keeps the windows its first trials chose (sampled.ts), and another
 * format's errors would choose other ones.
 */
export interface SearchReferences {
  /** What proxy trials encode: the mosaic, a downscale of a thin image, or a small image itself. */
  proxy: RawImage
  /** Whether the proxy is a mosaic (whose scores read optimistic, mosaicOptimism). */
  tiled: boolean
  proxyScorer: Scorer<[RgbImage]>
  /** The image as the metric reads it (flattened on white). */
  reference: RgbImage
  /** The whole-image scorer of an image scored whole at full size; null when small (the proxy's) or sampled. */
  wholeScorer: Scorer<[RgbImage]> | null
  release(): void
}

/** Prepares the references of `raw` (see above). */
export async function prepareReferences(sharp: typeof Sharp, raw: RawImage): Promise<SearchReferences> {
  // The floor only sets the score required, not whether the image is small or sampled.
  const { small, sampled } = fullSizeScoring(raw.width, raw.height, raw.channels, 0)
  const tiled = !small && canTile(raw.width, raw.height)
  const proxy = small ? raw : tiled ? mosaic(raw) : await downscale(sharp, raw, PROXY_PIXELS)
  const proxyReference = await flattenRaw(sharp, proxy)
  const reference = small ? proxyReference : await flattenRaw(sharp, raw)
  const proxyScorer = scorerFor(proxyReference, true)
  const wholeScorer = small || sampled ? null : scorerFor(reference, true)
  return {
    proxy,
    tiled,
    proxyScorer,
    reference,
    wholeScorer,
    release: () => {
      proxyScorer.release()
      wholeScorer?.release()
    }
  }
}

/** The references of every size an output set searches, prepared once per decoded pixels, released with the set. */
export class SharedReferences {
  #bySize = new Map<RawImage, Promise<SearchReferences>>()

  /** The references of `raw` (the same pixels object: the set derives each size once and hands it to each format). */
  of(sharp: typeof Sharp, raw: RawImage): Promise<SearchReferences> {
    let references = this.#bySize.get(raw)
    if (!references) {
      references = prepareReferences(sharp, raw)
      this.#bySize.set(raw, references)
    }
    return references
  }

  async release(): Promise<void> {
    const all = await Promise.allSettled(this.#bySize.values())
    this.#bySize.clear()
    for (const r of all) if (r.status === 'fulfilled') r.value.release()
  }
}
