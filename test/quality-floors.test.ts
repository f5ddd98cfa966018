/**
 * quality=auto on the corpus: every JPEG, WebP and AVIF output, measured by the reference implementation
 * (ssimulacra2_rs) against the oriented sRGB input, reaches its level's floor — or, when no quality reaches
 * it, is the best achievable and says so. Inputs are fitted inside 1024 px (max_width/max_height, as the
 * pipeline resizes) so the run stays bounded on two cores; larger outputs than CONFIRM_PIXELS still take the
 * sampled path, smaller ones the whole-image one.
 */

import { readFileSync } from 'node:fs'
import path from 'node:path'
import { type AutoLevel, DEFAULT_OPTIONS, QUALITY_FLOORS } from '@imgproc/core'
import { compressImage, mayKeepOriginal, planCompression, readFacts } from '@imgproc/media'
import sharp from 'sharp'
import t from 'tap'
import { flatRgb, referenceScore, requireReference } from './quality-reference.ts'
import { CORPUS } from './support/paths.ts'

const FIT = 1024
const STILLS = [
  '16-bit-grey-alpha.png',
  '2569067123_aca715a2ee_o.jpg',
  '4.webp',
  'Channel_digital_image_CMYK_color.jpg',
  'Landscape_1.jpg',
  'Landscape_6.jpg',
  'alpha-premultiply-2048x1536-paper.png',
  'astronaut.png',
  'chelsea.png',
  'coffee.png',
  'flowers.jpeg',
  'rocket.jpg',
  'sdr_cosmos12920_cicp1-13-6_yuv444_full_qp10.avif',
  // Animated: its first frame for JPEG and AVIF; WebP keeps the animation, which auto leaves at a fixed quality.
  'animated-loop-3.gif'
]
// Not here, on purpose: corrupt-header.jpg and truncated.jpg do not decode and giant-image.jpg is refused by the
// pixel limit (sharp.test.ts covers all three); Landscape_2-5,7,8 are Landscape_1's pixels under other EXIF
// orientations (Landscape_6 stands for them; orientation itself is tested in sharp.test.ts).
const FORMATS = ['jpeg', 'webp', 'avif'] as const

t.test('the reference binary is installed', async (t) => {
  t.ok(requireReference())
})

for (const name of STILLS) {
  t.test(name, async (t) => {
    const input = readFileSync(path.join(CORPUS, name))
    // The oriented, 8-bit sRGB, resized input (what the pipeline decodes), then flattened on white for the metric.
    const decoded = await sharp(input)
      .rotate()
      .toColourspace('srgb')
      .resize({ width: FIT, height: FIT, fit: 'inside', withoutEnlargement: true })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true })
    const reference = await flatRgb(
      sharp(decoded.data, {
        raw: { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels }
      })
    )
    const facts = await readFacts(input)
    for (const format of FORMATS) {
      for (const level of Object.keys(QUALITY_FLOORS) as AutoLevel[]) {
        const floor = QUALITY_FLOORS[level]
        const result = await compressImage(
          input,
          { ...DEFAULT_OPTIONS, format, quality: level, max_width: FIT, max_height: FIT },
          100_000_000
        )
        const label = `${format} ${level}`
        if (!result.auto) {
          t.ok(name.endsWith('.gif') && format === 'webp', `${label}: only animations go without the search`)
          t.equal(result.stats.score, undefined, `${label}: animated output has no score`)
          continue
        }
        const measured = await referenceScore(reference, await flatRgb(result.data))
        const { quality, score } = result.stats
        const how = `${result.auto.proxyTrials} proxy + ${result.auto.fullTrials} full-size trials${result.auto.sampled ? ', sampled' : ''}`
        if (result.auto.met) {
          t.ok(
            measured >= floor,
            `${label}: q${quality}, ${result.data.length} bytes, reference score ${measured.toFixed(2)} ≥ ${floor} (${how})`
          )
        } else {
          t.ok(
            quality! >= 95 && measured < floor + 3,
            `${label}: floor out of reach; delivered the best achievable, q${quality} scoring ${measured.toFixed(2)} (${how})`
          )
        }
        // The reported score is the one of the delivered output: exact when scored whole; when sampled, an
        // estimate that leans pessimistic (−8) and was seen up to 3.7 optimistic (WebP with alpha at q5).
        const [under, over] = result.auto.sampled ? [8, 4] : [1, 1]
        t.ok(
          score! - measured <= over && measured - score! <= under,
          `${label}: reported score ${score} vs reference ${measured.toFixed(2)}`
        )
        const options = { ...DEFAULT_OPTIONS, format, quality: level, max_width: FIT, max_height: FIT }
        // "Never larger than the input" applies where the input bytes may be delivered (same format, web-safe).
        const mayKeep = mayKeepOriginal(facts, planCompression(facts, options), Infinity, 0)
        if (mayKeep) t.ok(result.data.length <= input.length, `${label}: never larger than the input`)
      }
    }
  })
}
