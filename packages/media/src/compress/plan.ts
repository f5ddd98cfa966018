import { type EncodeFormat, type ProcessingOptions, parseQuality } from '@imgproc/core'
import { startQuality } from '../quality/search.ts'
import { autoSearchable, canAnimate, maxOutputSide } from './encoder.ts'

/** Formats we decode; anything else (SVG, PDF, raw…) is refused so customers get a clear reason, not a surprise. */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'heif', 'tiff'] as const

export interface InputFacts {
  format: string
  width: number
  height: number
  pages: number
  /** EXIF orientation 1-8; anything but 1 means the pixels must be rotated to look right. */
  orientation: number
  space: string
  depth: string
  hasProfile: boolean
  hasExif: boolean
  /** JPEG only: scans counted from the markers (see jpeg-scans.ts), up to one past the limit. */
  scans?: number
}

/** What an input may cost to decode, judged before any pixel is decoded. */
export interface DecodeLimits {
  maxPixels: number
  /** Progressive JPEG scans: the decoder passes over every block once per scan, and nothing can interrupt it. */
  maxScans: number
}

export interface CompressionPlan {
  format: EncodeFormat
  /** The encoder quality; with `auto`, the search's starting point (used as is for animations). */
  quality: number
  /** quality=auto on a still lossy output: the SSIMULACRA2 floor to reach. */
  auto: { floor: number } | null
  mozjpeg: boolean
  animated: boolean
  resize: { width?: number; height?: number } | null
}

/** Refusal reason for an input before any pixel is decoded, or null when it may be decoded. */
export function refuseInput(
  facts: InputFacts,
  limits: DecodeLimits
): { kind: 'unsupported_format' | 'pixel_limit' | 'scan_limit'; reason: string } | null {
  const { maxPixels, maxScans } = limits
  if (!(INPUT_FORMATS as readonly string[]).includes(facts.format))
    return { kind: 'unsupported_format', reason: `unsupported image format "${facts.format}"` }
  if ((facts.scans ?? 0) > maxScans)
    return {
      kind: 'scan_limit',
      reason: `progressive JPEG has more than ${maxScans} scans (MAX_JPEG_SCANS); real encoders write at most about 10`
    }
  const pixels = facts.width * facts.height * Math.max(1, facts.pages)
  if (pixels > maxPixels) {
    const size = `${facts.width}x${facts.height}${facts.pages > 1 ? `x${facts.pages} frames` : ''}`
    return {
      kind: 'pixel_limit',
      reason: `image is ${size} = ${(pixels / 1e6).toFixed(1)} megapixels; the limit is ${(maxPixels / 1e6).toFixed(1)} megapixels`
    }
  }
  return null
}

/** Time one image's pipeline may take: what any image may take, plus a share per input megapixel (frames
 *  included), since an honest encode costs in proportion to its pixels (100 MP as AVIF: about 100 s on one core).
 *  Whole seconds, as libvips counts them; 0 means no limit. */
export function compressTimeLimit(
  facts: Pick<InputFacts, 'width' | 'height' | 'pages'>,
  limits: { timeoutSeconds: number; timeoutSecondsPerMegapixel: number }
): number {
  if (limits.timeoutSeconds === 0) return 0
  return Math.ceil(limits.timeoutSeconds + limits.timeoutSecondsPerMegapixel * inputMegapixels(facts))
}

/** The megapixels an input decodes to, frames included: what its pipeline's time and memory scale with. */
export function inputMegapixels(facts: Pick<InputFacts, 'width' | 'height' | 'pages'>): number {
  return (facts.width * facts.height * Math.max(1, facts.pages)) / 1e6
}

/**
 * How many times its megapixels an image weighs in the worker's compression slots when its pixels are held
 * decoded (a quality search, or an output set): four searches on 0.8 MP web images held about 45 MB each, where
 * a streaming JPEG encode holds about 3 MB per megapixel.
 */
export const DECODED_WEIGHT = 8

/** What an image weighs in the worker's compression slots (COMPRESS_MEGAPIXELS), which bound their memory. */
export function slotMegapixels(facts: Pick<InputFacts, 'width' | 'height' | 'pages'>, decoded: boolean): number {
  return inputMegapixels(facts) * (decoded ? DECODED_WEIGHT : 1)
}

/** The input format we re-encode to when the customer asked to keep the original one. */
export function originalFormat(format: string): EncodeFormat {
  if (format === 'heif' || format === 'avif') return 'avif'
  if (format === 'tiff') return 'jpeg'
  return format as EncodeFormat
}

export function planCompression(facts: InputFacts, options: ProcessingOptions): CompressionPlan {
  const format = options.format === 'original' ? originalFormat(facts.format) : options.format
  const wantResize = options.max_width !== undefined || options.max_height !== undefined
  const animated = facts.pages > 1 && canAnimate(format)
  const quality = parseQuality(options.quality)
  // Animations are scored nowhere (the metric compares single frames) and GIF is lossless here: auto gives
  // them the quality where typical photos cross the floor.
  const auto = quality.kind === 'auto' && !animated && autoSearchable(format) ? { floor: quality.floor } : null
  return {
    format,
    quality: quality.kind === 'fixed' ? quality.quality : startQuality(quality.floor),
    auto,
    mozjpeg: options.mozjpeg,
    animated,
    resize: wantResize ? { width: options.max_width, height: options.max_height } : null
  }
}

/**
 * Whether the input bytes may be served instead of the re-encoded ones when re-encoding did not make them
 * smaller: only if they already are what the pipeline promises (same format, upright, 8-bit sRGB, no metadata).
 */
export function mayKeepOriginal(
  facts: InputFacts,
  plan: CompressionPlan,
  outputBytes: number,
  inputBytes: number
): boolean {
  if (outputBytes < inputBytes) return false
  if (plan.resize || originalFormat(facts.format) !== plan.format || facts.format === 'tiff') return false
  const webSafe =
    facts.orientation === 1 && (facts.space === 'srgb' || facts.space === 'b-w') && facts.depth === 'uchar'
  return webSafe && !facts.hasExif && !facts.hasProfile
}

/** Output size of the plan, known from the header: upright, fitted inside the resize box, never enlarged. */
export function plannedSize(facts: InputFacts, plan: CompressionPlan): { width: number; height: number } {
  const turned = facts.orientation >= 5 && facts.orientation <= 8
  const width = turned ? facts.height : facts.width
  const height = turned ? facts.width : facts.height
  const scale = Math.min(
    1,
    plan.resize?.width ? plan.resize.width / width : 1,
    plan.resize?.height ? plan.resize.height / height : 1
  )
  return { width: Math.round(width * scale), height: Math.round(height * scale) }
}

export function plannedPixels(facts: InputFacts, plan: CompressionPlan): number {
  const { width, height } = plannedSize(facts, plan)
  return width * height
}

/**
 * Refusal of a plan whose output the encoder cannot write, before any pixel is decoded: without it the
 * encoder's own error came after the whole decode and read as a corrupt image.
 */
export function refuseOutput(
  facts: InputFacts,
  plan: CompressionPlan
): { kind: 'dimension_limit'; reason: string } | null {
  const { width, height } = plannedSize(facts, plan)
  const limit = maxOutputSide(plan.format)
  if (width <= limit && height <= limit) return null
  const advice = plan.format === 'png' ? '' : '; set max_width/max_height to fit it, or choose PNG'
  return {
    kind: 'dimension_limit',
    reason: `output would be ${width}x${height}; ${plan.format.toUpperCase()} allows at most ${limit} pixels a side${advice}`
  }
}
