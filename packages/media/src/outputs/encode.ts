/** One output's encode: at its quality (fixed, or auto's search), then within its max_bytes, quality first, then size. */
import { type EncodeFormat, parseQuality, type QualitySetting } from '@imgproc/core'
import type Sharp from 'sharp'
import { autoSearchable, encodeAs } from '../compress/encoder.ts'
import { encodeAuto, type SetSearches } from '../quality/auto.ts'
import { type RawImage, rawInput } from '../quality/pixels.ts'
import { startQuality } from '../quality/search.ts'
import { type BytesTrial, bestFit, MAX_SIZE_STEPS, MIN_QUALITY, nextQuality, sizeStep } from './max-bytes.ts'

export interface Encoded {
  data: Buffer
  format: EncodeFormat
  quality: number
  score?: number
  met: boolean
  width: number
  height: number
  fitBytes: { by: 'quality' | 'size'; quality: number; maxBytes: number } | null
}

function encodeAt(sharp: typeof Sharp, pixels: RawImage, format: EncodeFormat, quality: number): Promise<Buffer> {
  return encodeAs(rawInput(sharp, pixels), { format, quality, mozjpeg: false, setting: 'fixed' }).toBuffer()
}

/**
 * One format's encode at the output's quality, then within max_bytes: the quality down first, then the size.
 * `set`: what the output set's searches share (auto.ts).
 */
export async function encodeOutput(
  sharp: typeof Sharp,
  pixels: RawImage,
  format: EncodeFormat,
  setting: QualitySetting,
  maxBytes: number | null,
  set?: SetSearches
): Promise<Encoded> {
  const quality = parseQuality(setting)
  const base = { format, width: pixels.width, height: pixels.height, fitBytes: null }
  let first: Encoded
  if (quality.kind === 'auto' && autoSearchable(format)) {
    const auto = await encodeAuto(sharp, pixels, { format, mozjpeg: false }, quality.floor, set)
    first = {
      ...base,
      data: auto.data,
      quality: auto.quality,
      met: auto.met,
      ...(Number.isFinite(auto.score) && { score: Math.round(auto.score * 100) / 100 })
    }
  } else {
    const q = quality.kind === 'fixed' ? quality.quality : startQuality(quality.floor)
    first = { ...base, data: await encodeAt(sharp, pixels, format, q), quality: q, met: true }
  }
  if (maxBytes === null || first.data.length <= maxBytes) return first

  const trials: BytesTrial[] = [{ quality: first.quality, bytes: first.data.length }]
  const encodes = new Map<number, Buffer>()
  for (let q = nextQuality(trials, maxBytes); q !== null; q = nextQuality(trials, maxBytes)) {
    const data = await encodeAt(sharp, pixels, format, q)
    encodes.set(q, data)
    trials.push({ quality: q, bytes: data.length })
  }
  const fit = bestFit(trials, maxBytes)
  if (fit) {
    // The score was the first encode's: a lower quality has none measured.
    return {
      ...base,
      data: encodes.get(fit.quality)!,
      quality: fit.quality,
      met: false,
      fitBytes: { by: 'quality', quality: fit.quality, maxBytes }
    }
  }
  let image = pixels
  let data = encodes.get(MIN_QUALITY) ?? first.data
  for (let step = 0; step < MAX_SIZE_STEPS && data.length > maxBytes; step++) {
    const factor = sizeStep(data.length, maxBytes)
    const width = Math.max(1, Math.round(image.width * factor))
    const height = Math.max(1, Math.round(image.height * factor))
    const resized = await rawInput(sharp, image)
      .resize(width, height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true })
    image = { data: resized.data, width, height, channels: resized.info.channels as RawImage['channels'] }
    data = await encodeAt(sharp, image, format, MIN_QUALITY)
  }
  return {
    format,
    data,
    width: image.width,
    height: image.height,
    quality: MIN_QUALITY,
    met: false,
    fitBytes: { by: 'size', quality: MIN_QUALITY, maxBytes }
  }
}
