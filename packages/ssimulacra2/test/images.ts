/** The specs' images: corpus photos as the metric reads them (8-bit sRGB on white), and distorted copies. */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import type { RgbImage } from '../src/index.ts'

export const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/corpus/images')

// The metric package stays free of media (which depends on it): this mirrors media's flatRgb for the specs.
export async function rgb(pipeline: sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}
export const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
export const distort = async (img: RgbImage, format: 'jpeg' | 'webp', quality: number) =>
  rgb(sharp(await raw(img)[format]({ quality }).toBuffer()))
