/**
 * `max_bytes`: the quality is searched down first (bisection between the output's quality and MIN_QUALITY),
 * then, if the lowest quality is still too large, the size (a step of about the square root of the byte
 * excess). Pure decisions over the encodes made so far; the adapter makes them.
 */

/** Below this, JPEG, WebP and AVIF lose more to blocking than a smaller image loses to scaling. */
export const MIN_QUALITY = 40
/** Encodes the quality search may make beyond the first. */
export const MAX_QUALITY_TRIALS = 5
/** Size steps before giving up (each at MIN_QUALITY). */
export const MAX_SIZE_STEPS = 4

export interface BytesTrial {
  quality: number
  bytes: number
}

/** The next quality to try, or null when the search is over (take `bestFit`, or go on to the size). */
export function nextQuality(trials: BytesTrial[], maxBytes: number, minQuality = MIN_QUALITY): number | null {
  const fits = trials.filter((t) => t.bytes <= maxBytes)
  const over = trials.filter((t) => t.bytes > maxBytes)
  if (over.length === 0 || trials.length > MAX_QUALITY_TRIALS) return null
  const tooBig = Math.min(...over.map((t) => t.quality))
  if (fits.length === 0) {
    // Try the floor first: if even it is too large, only the size can help.
    return trials.some((t) => t.quality <= minQuality) || tooBig <= minQuality ? null : minQuality
  }
  const fit = Math.max(...fits.map((t) => t.quality))
  if (tooBig - fit <= 2) return null
  return Math.round((fit + tooBig) / 2)
}

/** The highest-quality trial within `maxBytes`, or null. */
export function bestFit(trials: BytesTrial[], maxBytes: number): BytesTrial | null {
  const fits = trials.filter((t) => t.bytes <= maxBytes)
  return fits.length === 0 ? null : fits.reduce((a, b) => (b.quality > a.quality ? b : a))
}

/** The factor to scale both sides by for an output of `bytes` to come within `maxBytes`. */
export function sizeStep(bytes: number, maxBytes: number): number {
  return Math.min(0.9, Math.sqrt(maxBytes / bytes) * 0.95)
}
