import type Sharp from 'sharp'
import type { InputFacts } from '../compress/plan.ts'
import { decodeError } from '../compress/sharp.ts'
import { AUTO_MAX_PIXELS } from '../quality/auto.ts'
import type { RawImage } from '../quality/pixels.ts'

/** The decode an output set shares is held whole: larger sources are scaled to this many pixels once. */
export const OUTPUT_SET_MAX_PIXELS = AUTO_MAX_PIXELS

/** The one decode: upright, sRGB, 8-bit, alpha kept; scaled to OUTPUT_SET_MAX_PIXELS when larger. */
export async function decode(
  sharp: typeof Sharp,
  input: Buffer,
  facts: InputFacts,
  maxPixels: number,
  timeLimit: number
): Promise<RawImage> {
  let pipeline = sharp(input, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true })
    .timeout({ seconds: timeLimit })
    .rotate()
    .toColourspace('srgb')
  const pixels = facts.width * facts.height
  if (pixels > OUTPUT_SET_MAX_PIXELS) {
    const scale = Math.sqrt(OUTPUT_SET_MAX_PIXELS / pixels)
    pipeline = pipeline.resize({
      width: Math.floor(Math.max(facts.width, facts.height) * scale),
      height: Math.floor(Math.max(facts.width, facts.height) * scale),
      fit: 'inside'
    })
  }
  const { data, info } = await pipeline
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true })
    .catch((err) => {
      throw decodeError(err, timeLimit)
    })
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
}
