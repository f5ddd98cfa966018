import type { EncodeFormat } from '@imgproc/core'
import type Sharp from 'sharp'

/**
 * The encoder settings of every output, fixed quality and quality=auto alike, in one table (FORMATS): what
 * sharp is told for each format, what auto changes, the one alternative auto may choose, and what the encoder
 * can write. A new format or setting is a row or a field here; `compressImage` and the search both encode
 * through `encodeAs`, so a search's trials encode exactly as its delivery.
 */

/** Which of a format's settings an output is encoded with. */
export type EncoderSetting =
  /** A quality given: a fixed one, or a level's typical quality where auto does not search (animations). */
  | 'fixed'
  /** quality=auto's searched outputs, by default. */
  | 'auto'
  /** The format's alternative setting, which auto may choose instead (see `Alternative`). */
  | 'alternative'

/** One output's encoding. */
export interface Encoding {
  format: EncodeFormat
  quality: number
  /** The customer's `mozjpeg` option (JPEG only). */
  mozjpeg: boolean
  setting: EncoderSetting
}

/** sharp's options for each format. */
interface OptionsOf {
  jpeg: Sharp.JpegOptions
  png: Sharp.PngOptions
  webp: Sharp.WebpOptions
  gif: Sharp.GifOptions
  avif: Sharp.AvifOptions
}

/** A format and sharp's options for it (for `pipeline.toFormat`). */
export interface EncoderOptionsOf<F extends EncodeFormat> {
  format: F
  options: OptionsOf[F]
}

/**
 * The one setting auto may switch on besides the quality. `above`: from which quality (where the default
 * setting's proxy places the first full-size trial) it may reach the floor in fewer bytes, and so gets a proxy
 * search of its own; `saving`: the fraction of the bytes it must be predicted to save to be chosen.
 */
export interface Alternative {
  above: number
  saving: number
}

interface FormatSettings<F extends EncodeFormat> {
  /** Every output's options at a quality. */
  fixed(quality: number, mozjpeg: boolean): OptionsOf[F]
  /** What auto's searched outputs change, by default. */
  auto?(mozjpeg: boolean): OptionsOf[F]
  /** What the alternative setting changes instead, and when auto tries it. */
  alternative?: Alternative & { options: OptionsOf[F] }
  /** The longest side the encoder writes (sharp's checks; a frame's height for animations). */
  maxSide: number
  /** Whether it writes animations (others get the first frame). */
  animates: boolean
  /** Whether quality=auto searches its quality (a lossy still output the metric can score). */
  searchable: boolean
}

/**
 * Klein, Silverstein and Carney's quantisation table (sharp's table 5), auto's JPEG with libjpeg-turbo: it
 * reached each image's floor with 0.87× the bytes of the default (Annex K) table at the same CPU (11 photos,
 * floors 60 and 70; 0.96× at 80). Fixed qualities keep the default so their outputs do not change; 4:4:4 stays
 * on the default table, where it was smaller; mozjpeg keeps its own tuned tables.
 */
const KSC_TABLE = 5

const FORMATS: { [F in EncodeFormat]: FormatSettings<F> } = {
  jpeg: {
    fixed: (quality, mozjpeg) => ({ quality, mozjpeg }),
    auto: (mozjpeg) => (mozjpeg ? {} : { quantisationTable: KSC_TABLE }),
    // 4:4:4 chroma (sharp at fine colour edges) instead of 4:2:0.
    alternative: { options: { chromaSubsampling: '4:4:4' }, above: 88, saving: 0 },
    maxSide: 65_535,
    animates: false,
    searchable: true
  },
  png: {
    // Palette quantisation: `quality` sets how far the colours are reduced.
    fixed: (quality) => ({ quality, palette: true, effort: 4, compressionLevel: 9 }),
    maxSide: Infinity, // none
    animates: false,
    searchable: true
  },
  webp: {
    fixed: (quality) => ({ quality, effort: 4 }),
    // libwebp's sharp (iterative) RGB→YUV conversion, sharp's `smartSubsample`. On the 11 bench photos, each at
    // its own minimal quality, it reached floor 80 in 0.93× the bytes and floor 70 in 0.98× (rocket.jpg reached
    // 80 at q91, where the default tops out at 76.9; cosmos reached 70 in 0.91×), but an encode with it costs
    // ~1.5× the CPU: chosen only for 5% less. The mosaic proxy also reads truer with it: the default's read
    // 13–18 points low on a star field at q70–77, as the whole image does not.
    alternative: { options: { smartSubsample: true }, above: 78, saving: 0.05 },
    maxSide: 16_383,
    animates: true,
    searchable: true
  },
  gif: {
    // No quality setting here: GIF output ignores it.
    fixed: () => ({ effort: 7 }),
    maxSide: 65_535,
    animates: true,
    searchable: false
  },
  avif: {
    fixed: (quality) => ({ quality, effort: 2 }),
    maxSide: 16_384,
    animates: false,
    searchable: true
  }
}

/** sharp's options for an output's encoding. */
export function encoderOptions<F extends EncodeFormat>(encoding: Encoding & { format: F }): EncoderOptionsOf<F> {
  const { format, quality, mozjpeg, setting } = encoding
  const settings: FormatSettings<F> = FORMATS[format]
  const fixed = settings.fixed(quality, mozjpeg)
  if (setting === 'fixed') return { format, options: fixed }
  if (setting === 'auto') return { format, options: { ...fixed, ...settings.auto?.(mozjpeg) } }
  if (!settings.alternative) throw new RangeError(`${format} has no alternative encoder setting`)
  return { format, options: { ...fixed, ...settings.alternative.options } }
}

/** `pipeline` ending in the encoder of `encoding`: the one place any output is encoded. */
export function encodeAs(pipeline: Sharp.Sharp, encoding: Encoding): Sharp.Sharp {
  const { format, options } = encoderOptions(encoding)
  return pipeline.toFormat(format, options)
}

/** The format's alternative setting and when auto tries it, or null when it has none. */
export function alternativeOf(format: EncodeFormat): Alternative | null {
  const alternative = FORMATS[format].alternative
  return alternative ? { above: alternative.above, saving: alternative.saving } : null
}

/** The longest side `format`'s encoder writes. */
export const maxOutputSide = (format: EncodeFormat): number => FORMATS[format].maxSide

/** Whether `format` writes animations. */
export const canAnimate = (format: EncodeFormat): boolean => FORMATS[format].animates

/** Whether quality=auto searches the quality of a still `format` output. */
export const autoSearchable = (format: EncodeFormat): boolean => FORMATS[format].searchable
