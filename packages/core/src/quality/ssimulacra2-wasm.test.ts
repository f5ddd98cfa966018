/**
 * The WebAssembly kernels against the TypeScript port they replace: every per-scale sum bit for bit (so every
 * score), on corpus photos at several JPEG and WebP qualities, odd and tiny sizes (the 4-lane loops' tails,
 * the 8×8 minimum, a last scale under 8 pixels), crops with a border and the coarse scales of a halved image.
 */
import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { linearHalved, prepareReference, pyramidSums, scoreFromSums, ssimulacra2, sumsAgainst, toLinear, type LinearImage, type PartialSums, type RgbImage } from './ssimulacra2.ts'
import { prepareReferenceJs, sumsAgainstJs } from './ssimulacra2-js.ts'

const corpus = process.env.IMGPROC_CORPUS_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

async function rgb(pipeline: sharp.Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline.flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}
const raw = (img: RgbImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
const distort = async (img: RgbImage, format: 'jpeg' | 'webp', quality: number) => rgb(sharp(await raw(img)[format]({ quality }).toBuffer()))

/** Sums identical to the last bit, scale by scale, and pixel counts equal. */
function sameSums(t: Test, wasm: PartialSums, port: PartialSums, what: string) {
  t.same(wasm.pixels, port.pixels, `${what}: pixel counts`)
  t.equal(wasm.sums.length, port.sums.length, `${what}: scales`)
  const differing = wasm.sums.flatMap((s, scale) => [...s].flatMap((v, k) => (Object.is(v, port.sums[scale]![k]) ? [] : [`scale ${scale} sum ${k}: ${v} ≠ ${port.sums[scale]![k]}`])))
  t.same(differing, [], `${what}: every sum bit-identical`)
  t.ok(Math.abs(scoreFromSums(wasm) - scoreFromSums(port)) <= 1e-9, `${what}: score ${scoreFromSums(wasm).toFixed(4)}`)
}

const portSums = (first: LinearImage, second: LinearImage, scales: number, border = 0) => sumsAgainstJs(prepareReferenceJs(first, scales), second, border)

const DISTORTIONS = [['jpeg', 20], ['jpeg', 50], ['jpeg', 85], ['webp', 60]] as const

for (const [name, size] of [['astronaut.png', null], ['coffee.png', [599, 401]], ['flowers.jpeg', [1023, 577]]] as const) {
  t.test(`${name}${size ? ` at ${size.join('×')}` : ''}: every trial against one prepared reference`, async (t) => {
    let source = sharp(readFileSync(path.join(corpus, name)))
    if (size) source = source.resize(size[0], size[1], { fit: 'fill' })
    const reference = await rgb(source)
    const prepared = prepareReference(toLinear(reference), 6)
    const port = prepareReferenceJs(toLinear(reference), 6)
    for (const [format, quality] of DISTORTIONS) {
      const distorted = toLinear(await distort(reference, format, quality))
      sameSums(t, sumsAgainst(prepared, distorted), sumsAgainstJs(port, distorted), `${format} q${quality}`)
    }
    t.equal(ssimulacra2(reference, reference), 100, 'identical images score 100')
  })
}

t.test('tiny and odd sizes: every tail of the 4-lane loops, the 8×8 minimum, a last scale under 8 pixels', async (t) => {
  const photo = await rgb(sharp(readFileSync(path.join(corpus, 'chelsea.png'))))
  for (const [width, height] of [[8, 8], [9, 13], [13, 9], [10, 8], [11, 17], [16, 16], [33, 35], [70, 67], [129, 64]] as const) {
    const reference = await rgb(raw(photo).resize(width, height, { fit: 'fill' }))
    const distorted = await distort(reference, 'jpeg', 30)
    sameSums(t, pyramidSums(toLinear(reference), toLinear(distorted), 6, 0), portSums(toLinear(reference), toLinear(distorted), 6), `${width}×${height}`)
  }
})

t.test('crops with a border (fine scales) and the halved image (coarse scales), as the sampled scorer uses them', async (t) => {
  const photo = await rgb(sharp(readFileSync(path.join(corpus, 'flowers.jpeg'))))
  const distorted = await distort(photo, 'webp', 50)
  for (const [left, top, width, height] of [[200, 300, 128, 128], [1001, 77, 131, 129]] as const) {
    const crop = (img: RgbImage) => rgb(raw(img).extract({ left, top, width, height }))
    const [a, b] = [toLinear(await crop(photo)), toLinear(await crop(distorted))]
    for (const border of [24, 7]) sameSums(t, pyramidSums(a, b, 3, border), portSums(a, b, 3, border), `crop ${width}×${height} at ${left},${top}, border ${border}`)
  }
  for (const times of [3, 1]) {
    const [a, b] = [linearHalved(photo, times), linearHalved(distorted, times)]
    sameSums(t, pyramidSums(a, b, 3, 0), portSums(a, b, 3), `halved ${times}×: ${a.width}×${a.height}`)
  }
})
