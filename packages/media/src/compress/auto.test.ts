import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ssimulacra2 } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import t from 'tap'
import {
  ALPHA_CONFIRM_PIXELS,
  CONFIRM_PIXELS,
  confirmKnownQuality,
  decodeFlat,
  fullSizeScoring,
  PROXY_PIXELS,
  type RawImage,
  SAMPLE_MARGIN
} from './auto.ts'

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

t.test('confirmKnownQuality scores one output the way the search confirms it', async (t) => {
  const { data, info } = await sharp(readFileSync(path.join(corpus, 'astronaut.png')))
    .raw()
    .toBuffer({ resolveWithObject: true })
  const raw: RawImage = {
    data,
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage['channels']
  }
  const confirmed = await confirmKnownQuality(sharp, raw, { format: 'jpeg', mozjpeg: false }, 60, false)
  const fixed = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .jpeg({ quality: 60, quantisationTable: 5 })
    .toBuffer()
  t.ok(confirmed.data.equals(fixed), "encoded with auto's JPEG settings (4:2:0, table 5)")
  // Scored whole (0.26 MP) in the channels with a say: within 0.0005 of the full metric.
  const exact = ssimulacra2({ data, width: info.width, height: info.height }, await decodeFlat(sharp, confirmed.data))
  t.ok(
    Math.abs(confirmed.score - exact) < 0.0005,
    `score ${confirmed.score.toFixed(4)} against the full metric's ${exact.toFixed(4)}`
  )
  const alternative = await confirmKnownQuality(sharp, raw, { format: 'jpeg', mozjpeg: false }, 60, true)
  t.equal((await sharp(alternative.data).metadata()).chromaSubsampling, '4:4:4', 'the alternative setting: 4:4:4')
})
