import type { RgbImage } from '@imgproc/ssimulacra2'
import type Sharp from 'sharp'

/**
 * The search's pixels and the sharp steps between them: decoded raw images (what trials encode) and the
 * metric's 8-bit sRGB images (what trials are scored as). sharp is passed in: it is loaded on first use.
 */

/** An image decoded once (oriented, sRGB, resized, 8-bit), interleaved, with or without alpha. */
export interface RawImage {
  data: Buffer
  width: number
  height: number
  channels: 1 | 2 | 3 | 4
}

/** A sharp pipeline reading `image`'s pixels. */
export const rawInput = (sharp: typeof Sharp, image: RawImage): Sharp.Sharp =>
  sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } })

/**
 * A pipeline's pixels as the metric reads them: 8-bit sRGB, flattened on white (the metric has no alpha, and a
 * page shows a transparent product shot on white), as the reference implementation is fed them too.
 */
export async function flatRgb(pipeline: Sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

/** A decoded image as the metric reads it (flatRgb), without a pass through sharp when it has no alpha. */
export async function flattenRaw(sharp: typeof Sharp, raw: RawImage): Promise<RgbImage> {
  if (raw.channels === 3) return { data: raw.data, width: raw.width, height: raw.height }
  return flatRgb(rawInput(sharp, raw))
}

/** Decodes an encoded output as the metric reads it (flatRgb). */
export const decodeFlat = (sharp: typeof Sharp, encoded: Buffer): Promise<RgbImage> => flatRgb(sharp(encoded))

/** `raw` resized (both sides at least 8) to about `maxPixels`, as the proxy of an image too thin for tiles. */
export async function downscale(sharp: typeof Sharp, raw: RawImage, maxPixels: number): Promise<RawImage> {
  const scale = Math.sqrt(maxPixels / (raw.width * raw.height))
  const width = Math.max(8, Math.round(raw.width * scale))
  const height = Math.max(8, Math.round(raw.height * scale))
  const { data, info } = await rawInput(sharp, raw).resize(width, height, { fit: 'fill' }).raw().toBuffer({
    resolveWithObject: true
  })
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
}
