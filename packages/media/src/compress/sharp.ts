import { EXTENSIONS, type ImageStats, type ProcessingOptions } from '@imgproc/core'
import type Sharp from 'sharp'
import type { Metadata, OutputInfo } from 'sharp'
import { AUTO_MAX_PIXELS, type AutoResult, encodeAuto } from '../quality/auto.ts'
import type { RawImage } from '../quality/pixels.ts'
import { encodeAs } from './encoder.ts'
import { countJpegScans } from './jpeg-scans.ts'
import {
  compressTimeLimit,
  type InputFacts,
  mayKeepOriginal,
  planCompression,
  plannedPixels,
  refuseInput,
  refuseOutput
} from './plan.ts'

/**
 * sharp (libvips) is loaded on first use. (Only workers depend on this package; the API never reaches it, which
 * test/api-bundle.test.ts proves.)
 */
let loaded: Promise<typeof Sharp> | null = null
export function sharpLib(): Promise<typeof Sharp> {
  loaded ??= import('sharp').then((module) => {
    const sharp = module.default as typeof Sharp
    sharp.cache(false) // job size must not decide memory: no cache of decoded images between unrelated inputs
    return sharp
  })
  return loaded
}

/** Why an image could not be compressed, as a fixed vocabulary; the message is for people. */
export type ImageFailureKind =
  | 'not_an_image'
  | 'unsupported_format'
  | 'pixel_limit'
  | 'dimension_limit'
  | 'corrupt_image'
  | 'encode_failed'
  | 'scan_limit'
  | 'time_limit'

export class ImageError extends Error {
  override name = 'ImageError'
  constructor(
    readonly kind: ImageFailureKind,
    message: string
  ) {
    super(message)
  }
}

/** What one image may cost beyond its pixels (MAX_INPUT_PIXELS): see refuseInput and the `timeout` below. */
export interface CompressBounds {
  /** Progressive JPEG scans, counted from the markers before decoding (MAX_JPEG_SCANS). */
  maxScans: number
  /** The time one pipeline may take (see compressTimeLimit): COMPRESS_TIMEOUT_S, 0 for none, … */
  timeoutSeconds: number
  /** … plus this much per input megapixel (COMPRESS_TIMEOUT_S_PER_MP). */
  timeoutSecondsPerMegapixel: number
}

export const DEFAULT_COMPRESS_BOUNDS: CompressBounds = {
  maxScans: 100,
  timeoutSeconds: 30,
  timeoutSecondsPerMegapixel: 3
}

export interface CompressResult {
  data: Buffer
  extension: string
  stats: Omit<ImageStats, 'download_ms'>
  /** quality=auto only: the floor, whether the delivered output reached it, how many encodes it took, and
   *  whether the format's alternative setting was delivered (JPEG's 4:4:4, WebP's sharp YUV). */
  auto?: {
    floor: number
    met: boolean
    proxyTrials: number
    fullTrials: number
    sampled: boolean
    alternative: boolean
  }
}

/** Reads only the header: size, format, orientation. Rejects bytes that are not an image before any decoding. */
export async function readFacts(input: Buffer): Promise<InputFacts> {
  const sharp = await sharpLib()
  let meta: Metadata
  try {
    meta = await sharp(input, { limitInputPixels: false, animated: true }).metadata()
  } catch (err) {
    throw new ImageError('not_an_image', `not a supported image: ${sharpReason(err)}`)
  }
  const pageHeight = meta.pageHeight ?? meta.height ?? 0
  return {
    format: meta.format ?? 'unknown',
    width: meta.width ?? 0,
    height: meta.pages && meta.pages > 1 ? pageHeight : (meta.height ?? 0),
    pages: meta.pages ?? 1,
    orientation: meta.orientation ?? 1,
    space: meta.space ?? 'unknown',
    depth: meta.depth ?? 'unknown',
    hasProfile: Boolean(meta.icc),
    hasExif: Boolean(meta.exif)
  }
}

/**
 * What an input is, read from its header (and a JPEG's scan markers) before any decoding, or an ImageError when
 * it must not be decoded at all: too many pixels or scans (refuseInput).
 */
export async function admitInput(input: Buffer, maxPixels: number, bounds: CompressBounds): Promise<InputFacts> {
  const facts = await readFacts(input)
  if (facts.format === 'jpeg') facts.scans = countJpegScans(input, bounds.maxScans + 1)
  const refusal = refuseInput(facts, { maxPixels, maxScans: bounds.maxScans })
  if (refusal) throw new ImageError(refusal.kind, refusal.reason)
  return facts
}

/**
 * One pipeline per image: auto-orient, sRGB 8-bit, optional fit-inside resize, encode; metadata is dropped.
 * With quality=auto the pixels are decoded once to raw and the search (quality/auto.ts) encodes them; the
 * score is computed only then (it costs far more than an encode), so fixed qualities report none.
 */
export async function compressImage(
  input: Buffer,
  options: ProcessingOptions,
  maxPixels: number,
  bounds: CompressBounds = DEFAULT_COMPRESS_BOUNDS,
  admitted?: InputFacts
): Promise<CompressResult> {
  const started = performance.now()
  // `admitted`: the caller read the header already (to size the image's compression slot), so it is not read twice.
  const facts = admitted ?? (await admitInput(input, maxPixels, bounds))
  const plan = planCompression(facts, options)
  const tooLarge = refuseOutput(facts, plan)
  if (tooLarge) throw new ImageError(tooLarge.kind, tooLarge.reason)

  const sharp = await sharpLib()
  const timeLimit = compressTimeLimit(facts, bounds)
  let pipeline = sharp(input, {
    limitInputPixels: maxPixels,
    failOn: 'error',
    animated: plan.animated,
    sequentialRead: true
  })
    // Checked as libvips computes tiles, so it cannot cut into a progressive JPEG's scans (read in one call before
    // the first tile): the scan count above bounds those.
    .timeout({ seconds: timeLimit })
    .rotate()
    .toColourspace('srgb')
  if (plan.resize) pipeline = pipeline.resize({ ...plan.resize, fit: 'inside', withoutEnlargement: true })
  // JPEG has no alpha: transparent parts go white (a product page's background), not whatever colour they hide.
  if (plan.format === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' })
  let output: { data: Buffer; info: Pick<OutputInfo, 'width' | 'height' | 'pageHeight'> }
  let auto: AutoResult | null = null
  const decodeFailed = (err: unknown) => decodeError(err, timeLimit)
  if (plan.auto && plannedPixels(facts, plan) <= AUTO_MAX_PIXELS) {
    const decoded = await pipeline
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
      .catch((err) => {
        throw decodeFailed(err)
      })
    const raw: RawImage = {
      data: decoded.data,
      width: decoded.info.width,
      height: decoded.info.height,
      channels: decoded.info.channels
    }
    try {
      auto = await encodeAuto(sharp, raw, { format: plan.format, mozjpeg: plan.mozjpeg }, plan.auto.floor)
    } catch (err) {
      // The pixels decoded: whatever failed is the search's or the encoder's, not the image's corruption.
      throw new ImageError('encode_failed', `could not encode the image (quality=auto): ${sharpReason(err)}`)
    }
    output = { data: auto.data, info: decoded.info }
  } else {
    // One libvips pipeline decodes and encodes; with the encoder's size limits refused above, what fails is the decode.
    const encoding = { format: plan.format, quality: plan.quality, mozjpeg: plan.mozjpeg, setting: 'fixed' } as const
    output = await encodeAs(pipeline, encoding)
      .toBuffer({ resolveWithObject: true })
      .catch((err) => {
        throw decodeFailed(err)
      })
  }
  const keep = mayKeepOriginal(facts, plan, output.data.length, input.length)
  const data = keep ? input : output.data
  const outHeight = output.info.pageHeight ?? output.info.height
  return {
    ...(auto && {
      auto: {
        floor: plan.auto!.floor,
        met: keep || auto.met,
        proxyTrials: auto.proxy.length,
        fullTrials: auto.full.length,
        sampled: auto.sampled,
        alternative: auto.alternative
      }
    }),
    data,
    extension: EXTENSIONS[plan.format],
    stats: {
      bytes_in: input.length,
      bytes_out: data.length,
      kept_original: keep,
      width_in: facts.width,
      height_in: facts.height,
      width_out: output.info.width,
      height_out: outHeight,
      format_in: facts.format,
      format_out: plan.format,
      compress_ms: Math.round(performance.now() - started),
      // A kept original is the reference itself (upright sRGB, no profile): it scores 100 by definition.
      ...(auto && { quality: auto.quality }),
      ...(auto && (keep || Number.isFinite(auto.score)) && { score: keep ? 100 : Math.round(auto.score * 100) / 100 })
    }
  }
}

/** A pipeline's failure once the encoder's limits were checked: the time limit, or a decode that failed. */
export function decodeError(err: unknown, timeLimit: number): ImageError {
  return isTimeout(err)
    ? new ImageError(
        'time_limit',
        `compression took longer than its ${timeLimit} s limit (COMPRESS_TIMEOUT_S + COMPRESS_TIMEOUT_S_PER_MP per megapixel)`
      )
    : new ImageError('corrupt_image', `could not decode image: ${sharpReason(err)}`)
}

/** libvips's own abort once `timeout` has passed ("timeout: 58% complete"). */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && /^timeout: \d+% complete/.test(err.message)
}

export function sharpReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message
    .replace(/^Input (buffer|file) (has|contains) /, '')
    .split('\n')[0]!
    .trim()
}
