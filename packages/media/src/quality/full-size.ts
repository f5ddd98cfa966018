import { type RgbImage, SAMPLED_MIN_SIDE, type Scorer, sampledScorer, scorerFor } from '@imgproc/ssimulacra2'
import { PROXY_PIXELS } from './mosaic.ts'
import type { RawImage } from './pixels.ts'

/**
 * How the search scores a full-size output for its decision: whole up to CONFIRM_PIXELS; above, from a sample
 * (the metric's `sampledScorer`: coarse scales from the whole image, fine ones from crops). A sample is still
 * an estimate, so sampled outputs must beat the floor by SAMPLE_MARGIN.
 */
export const CONFIRM_PIXELS = 524_288
export const ALPHA_CONFIRM_PIXELS = 4_194_304
export const SAMPLE_MARGIN = 2

export interface FullSizeScoring {
  /** Up to the mosaic's size an image is its own proxy: its trials are the final ones, scored whole. */
  small: boolean
  sampled: boolean
  /** The score a full-size trial must reach: the floor, plus the sample's margin. */
  required: number
}

/**
 * Whole, or sampled above CONFIRM_PIXELS. Thin images have fewer than six scales in their 1/8 part: they are
 * scored whole. So are transparent ones up to ALPHA_CONFIRM_PIXELS: the sample read up to 3.7 points optimistic
 * on a transparent product as WebP (alpha edges), more than the margin; above that size they get a double margin.
 */
export function fullSizeScoring(
  width: number,
  height: number,
  channels: RawImage['channels'],
  floor: number
): FullSizeScoring {
  const pixels = width * height
  const small = pixels <= PROXY_PIXELS
  const alpha = channels === 2 || channels === 4
  const sampled =
    !small && pixels > (alpha ? ALPHA_CONFIRM_PIXELS : CONFIRM_PIXELS) && Math.min(width, height) >= SAMPLED_MIN_SIDE
  return { small, sampled, required: sampled ? floor + SAMPLE_MARGIN * (alpha ? 2 : 1) : floor }
}

/**
 * The scorer of an image's full-size trials against its `reference`, as `fullSizeScoring` decided: each trial
 * is scored with the encoder quality that made it (a sample's windows are shared by nearby qualities).
 */
export const fullSizeScorer = (reference: RgbImage, sampled: boolean): Scorer<[RgbImage, number]> =>
  sampled ? sampledScorer(reference) : scorerFor(reference, true)
