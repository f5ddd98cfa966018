import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'

/**
 * Product-like test images made from the shared corpus: a product (a corpus photo) on an off-white, slightly
 * noisy background; the same on transparency; a CMYK JPEG; a 420 px image; a busy photograph.
 */
const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/corpus/images')
export const corpusFile = (name: string) => readFileSync(path.join(corpus, name))

/** The product on the off-white canvas: its box, for the tests to compare with. */
export const OFF_WHITE = { width: 1600, height: 1200, product: { left: 500, top: 300, width: 600, height: 500 } }
const OFF_WHITE_COLOUR = [244, 241, 236]

/** Deterministic noise of ±`amplitude` around `colour`, RGB. */
function noisyCanvas(width: number, height: number, colour: number[], amplitude: number): Buffer {
  const data = Buffer.alloc(width * height * 3)
  let seed = 12345
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    data[i] = Math.max(0, Math.min(255, colour[i % 3]! + ((seed >> 16) % (2 * amplitude + 1)) - amplitude))
  }
  return data
}

const product = (width: number, height: number) =>
  sharp(corpusFile('flowers.jpeg')).resize(width, height, { fit: 'cover' }).toBuffer()

/** A product photo on an off-white, slightly noisy background (JPEG, 1600 × 1200). */
export async function productOnOffWhite(): Promise<Buffer> {
  const { width, height, product: box } = OFF_WHITE
  return sharp(noisyCanvas(width, height, OFF_WHITE_COLOUR, 5), { raw: { width, height, channels: 3 } })
    .composite([{ input: await product(box.width, box.height), left: box.left, top: box.top }])
    .jpeg({ quality: 92 })
    .toBuffer()
}

/** A round product on transparency (PNG, 1000 × 1000, the product 500 px across). */
export async function transparentProduct(): Promise<Buffer> {
  const circle = Buffer.from('<svg width="500" height="500"><circle cx="250" cy="250" r="250" fill="#fff"/></svg>')
  const disc = await sharp(await product(500, 500))
    .ensureAlpha()
    .composite([{ input: circle, blend: 'dest-in' }])
    .png()
    .toBuffer()
  return sharp({ create: { width: 1000, height: 1000, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
    .composite([{ input: disc, left: 250, top: 250 }])
    .png()
    .toBuffer()
}

/** The corpus's CMYK JPEG (500 × 333, a photograph). */
export const cmykJpeg = () => corpusFile('Channel_digital_image_CMYK_color.jpg')

/** A product on white, 420 × 420 px. */
export async function smallProduct(): Promise<Buffer> {
  return sharp({ create: { width: 420, height: 420, channels: 3, background: '#ffffff' } })
    .composite([{ input: await product(300, 300), left: 60, top: 60 }])
    .jpeg({ quality: 92 })
    .toBuffer()
}

/** A busy photograph (the corpus's landscape, 1024 px). */
export const busyPhoto = () => sharp(corpusFile('2569067123_aca715a2ee_o.jpg')).resize(1024).jpeg().toBuffer()
