import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ssimulacra2 } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import t from 'tap'
import { busyPhoto } from '../../test/product-images.ts'
import { encodeAs } from '../compress/encoder.ts'
import { encodeAuto, type SetSearches } from './auto.ts'
import { SAMPLE_MARGIN } from './full-size.ts'
import { SearchHints } from './hints.ts'
import { decodeFlat, flattenRaw, type RawImage, rawInput } from './pixels.ts'
import { SharedReferences } from './references.ts'
import { SEARCH_LIMITS, startQuality } from './search.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

async function decoded(pipeline: sharp.Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
}
const photo = (name: string) =>
  sharp(readFileSync(path.join(corpus, name)))
    .rotate()
    .toColourspace('srgb')
/** The delivered output's score over the whole image, every channel. */
const exactScore = async (raw: RawImage, output: Buffer) =>
  ssimulacra2(await flattenRaw(sharp, raw), await decodeFlat(sharp, output))

t.test('a small image is its own proxy: its trials are the final ones, scored whole', async (t) => {
  const raw = await decoded(photo('chelsea.png').resize(200, 150))
  const result = await encodeAuto(sharp, raw, { format: 'jpeg', mozjpeg: false }, 70)
  t.match(result, { met: true, sampled: false, full: [] })
  t.ok(result.proxy.length >= 1 && result.proxy.some((p) => p.quality === result.quality))
  const exact = await exactScore(raw, result.data)
  t.ok(exact >= 70 && Math.abs(exact - result.score) < 0.0005, `score ${result.score} at q${result.quality}`)
})

t.test('a thin image is searched on a downscale, then confirmed whole', async (t) => {
  const raw = await decoded(photo('flowers.jpeg').extract({ left: 0, top: 500, width: 1900, height: 48 }))
  const result = await encodeAuto(sharp, raw, { format: 'webp', mozjpeg: false }, 70)
  t.match(result, { met: true, sampled: false })
  t.ok(result.proxy.length >= 1 && result.full.length >= 1)
  const exact = await exactScore(raw, result.data)
  t.ok(exact >= 70 && Math.abs(exact - result.score) < 0.0005, `score ${result.score} at q${result.quality}`)
})

t.test('a large image: the mosaic, then full-size trials scored on a sample with its margin', async (t) => {
  const raw = await decoded(photo('flowers.jpeg'))
  const result = await encodeAuto(sharp, raw, { format: 'jpeg', mozjpeg: false }, 60)
  t.match(result, { met: true, sampled: true })
  t.ok(result.score >= 60 + SAMPLE_MARGIN, `sampled score ${result.score.toFixed(2)} beats the floor by the margin`)
  // The default setting's trials, plus at most a second chance's one and its top-quality one.
  t.ok(result.full.length >= 1 && result.full.length <= SEARCH_LIMITS.fullTrials + 3, `${result.full.length} trials`)
  t.ok(
    result.full.some((f) => f.quality === result.quality && f.bytes === result.data.length),
    'one of its trials'
  )
})

t.test("the alternative setting where the default cannot reach the floor: WebP's sharp YUV", async (t) => {
  // rocket.jpg (a night launch: sparks, thin coloured edges) tops out at 76.9 as WebP with the default RGB→YUV.
  const raw = await decoded(photo('rocket.jpg'))
  const result = await encodeAuto(sharp, raw, { format: 'webp', mozjpeg: false }, 80)
  t.match(result, { met: true, alternative: true })
  const alternative = await encodeAs(rawInput(sharp, raw), {
    format: 'webp',
    quality: result.quality,
    mozjpeg: false,
    setting: 'alternative'
  }).toBuffer()
  t.ok(alternative.equals(result.data), `delivered with sharp YUV at q${result.quality}`)
})

t.test("too small for the metric: the level's typical quality with auto's setting, no score", async (t) => {
  const raw = await decoded(photo('chelsea.png').resize(6, 6))
  const result = await encodeAuto(sharp, raw, { format: 'jpeg', mozjpeg: false }, 70)
  t.match(result, { quality: startQuality(70), met: false, alternative: false, proxy: [], full: [] })
  t.ok(Number.isNaN(result.score))
  const expected = await encodeAs(rawInput(sharp, raw), {
    format: 'jpeg',
    quality: startQuality(70),
    mozjpeg: false,
    setting: 'auto'
  }).toBuffer()
  t.ok(expected.equals(result.data))
})

t.test(
  'in a set, another size is carried: no proxy search, the first trial at the quality found, the floor reached',
  async (t) => {
    const set: SetSearches = { references: new SharedReferences(), hints: new SearchHints() }
    const webp = { format: 'webp', mozjpeg: false } as const
    try {
      const large = await decoded(photo('flowers.jpeg').resize(960))
      const first = await encodeAuto(sharp, large, webp, 70, set)
      t.ok(first.met && first.proxy.length > 0, 'the first size searched its own proxy')
      for (const width of [480, 1200]) {
        // Smaller (as a set makes them, largest first), and larger: a miss there steps up on the curve.
        const raw = await decoded(photo('flowers.jpeg').resize(width))
        const carried = await encodeAuto(sharp, raw, webp, 70, set)
        t.same(carried.proxy, [], `${width} px: no proxy trials of its own`)
        t.equal(carried.full[0]?.quality, first.quality, `${width} px: its first trial at q${first.quality}`)
        const missed = carried.full.filter((f) => f.score < 70 + (carried.sampled ? SAMPLE_MARGIN : 0))
        for (const miss of missed)
          t.ok(
            carried.full.some((f) => f.quality > miss.quality),
            `${width} px: q${miss.quality} missed, a higher quality was tried`
          )
        t.ok(carried.met, `${width} px: met at q${carried.quality} (trials ${carried.full.map((f) => f.quality)})`)
        if (!carried.sampled) {
          const exact = await exactScore(raw, carried.data)
          t.ok(exact >= 70 && Math.abs(exact - carried.score) < 0.0005, `${width} px: its own score ${exact}`)
        } else t.ok(carried.score >= 70 + SAMPLE_MARGIN, `${width} px: sampled ${carried.score} with the margin`)
      }
    } finally {
      await set.references.release()
    }
  }
)

t.test("a carried search keeps its format's setting: no second chance while it meets the floor", async (t) => {
  // The busy photograph needs WebP above q78, where a search alone compares sharp YUV on its proxy; carried, the
  // first search's choice stands.
  const set: SetSearches = { references: new SharedReferences(), hints: new SearchHints() }
  const webp = { format: 'webp', mozjpeg: false } as const
  try {
    const first = await encodeAuto(sharp, await decoded(sharp(await busyPhoto())), webp, 70, set)
    t.ok(first.met && first.quality > 78, `the first search: q${first.quality}`)
    const carried = await encodeAuto(sharp, await decoded(sharp(await busyPhoto()).resize(960)), webp, 70, set)
    t.ok(carried.met, `carried: q${carried.quality}`)
    t.same(carried.proxy, [], 'no proxy search of the other setting')
    t.equal(carried.alternative, first.alternative)
  } finally {
    await set.references.release()
  }
})
