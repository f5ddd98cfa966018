import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sampledScorer, ssimulacra2 } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import t from 'tap'
import { encodeAs } from '../compress/encoder.ts'
import { ALPHA_CONFIRM_PIXELS, CONFIRM_PIXELS, fullSizeScorer, fullSizeScoring, SAMPLE_MARGIN } from './full-size.ts'
import { PROXY_PIXELS } from './mosaic.ts'
import { decodeFlat, flattenRaw, type RawImage, rawInput } from './pixels.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

t.test(
  'fullSizeScoring: whole up to CONFIRM_PIXELS, sampled above with a margin; transparent and thin images whole longer',
  async (t) => {
    t.same(
      fullSizeScoring(256, 256, 3, 70),
      { small: true, sampled: false, required: 70 },
      "the mosaic's size: its own proxy"
    )
    t.equal(256 * 256, PROXY_PIXELS)
    t.same(fullSizeScoring(512, 512, 3, 70), { small: false, sampled: false, required: 70 }, '0.26 MP: scored whole')
    t.ok(1024 * 512 <= CONFIRM_PIXELS && 1024 * 513 > CONFIRM_PIXELS)
    t.same(
      fullSizeScoring(1024, 512, 3, 70),
      { small: false, sampled: false, required: 70 },
      'at CONFIRM_PIXELS: still whole'
    )
    t.same(
      fullSizeScoring(1024, 513, 3, 70),
      { small: false, sampled: true, required: 70 + SAMPLE_MARGIN },
      'above: sampled, so it must beat the floor by the margin'
    )
    t.same(
      fullSizeScoring(4000, 255, 3, 70),
      { small: false, sampled: false, required: 70 },
      'thinner than 256: too few scales in its 1/8 part, whole'
    )
    t.same(
      fullSizeScoring(2048, 1536, 4, 70),
      { small: false, sampled: false, required: 70 },
      'transparent, 3 MP: whole (alpha edges fooled the sample)'
    )
    t.ok(2048 * 2049 > ALPHA_CONFIRM_PIXELS)
    t.same(
      fullSizeScoring(2048, 2049, 2, 80),
      { small: false, sampled: true, required: 80 + 2 * SAMPLE_MARGIN },
      'transparent above 4 MP: sampled with a double margin'
    )
  }
)

t.test('a full-size trial is scored as decided: whole in the channels with a say, or sampled', async (t) => {
  const { data, info } = await sharp(readFileSync(path.join(corpus, 'astronaut.png')))
    .raw()
    .toBuffer({ resolveWithObject: true })
  const raw: RawImage = {
    data,
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage['channels']
  }
  const reference = await flattenRaw(sharp, raw)
  const output = await encodeAs(rawInput(sharp, raw), {
    format: 'jpeg',
    quality: 60,
    mozjpeg: false,
    setting: 'auto'
  }).toBuffer()
  const decoded = await decodeFlat(sharp, output)
  // Scored whole (0.26 MP) in the channels with a say: within 0.0005 of the full metric.
  const whole = fullSizeScorer(reference, false)
  const exact = ssimulacra2({ data, width: info.width, height: info.height }, decoded)
  const score = whole(decoded, 60)
  whole.release()
  t.ok(Math.abs(score - exact) < 0.0005, `score ${score.toFixed(4)} against the full metric's ${exact.toFixed(4)}`)
  const [sampled, metric] = [fullSizeScorer(reference, true), sampledScorer(reference)]
  t.equal(sampled(decoded, 60), metric(decoded, 60), "sampled: the metric's sampled scorer")
  sampled.release()
  metric.release()
})
