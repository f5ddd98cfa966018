import { DEFAULT_OPTIONS } from '@imgproc/core'
import t from 'tap'
import {
  compressTimeLimit,
  type InputFacts,
  planCompression,
  plannedPixels,
  refuseInput,
  refuseOutput,
  slotMegapixels
} from './plan.ts'

const facts = (width: number, height: number, orientation = 1, pages = 1): InputFacts => ({
  format: 'jpeg',
  width,
  height,
  pages,
  orientation,
  space: 'srgb',
  depth: 'uchar',
  hasProfile: false,
  hasExif: false
})

t.test(
  'quality: fixed numbers pass through; auto levels carry their floor, except for animations and GIF',
  async (t) => {
    t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 42 }), { quality: 42, auto: null })
    t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 'auto' }), {
      quality: 75,
      auto: { floor: 70 }
    })
    t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 'auto:eco', format: 'webp' }), {
      auto: { floor: 60 }
    })
    t.match(planCompression(facts(100, 100, 1, 10), { ...DEFAULT_OPTIONS, quality: 'auto:high', format: 'webp' }), {
      animated: true,
      quality: 85,
      auto: null
    })
    t.match(planCompression({ ...facts(100, 100), format: 'gif' }, { ...DEFAULT_OPTIONS, quality: 'auto' }), {
      format: 'gif',
      auto: null
    })
  }
)

t.test('plannedPixels: upright, fitted inside the box, never enlarged', async (t) => {
  t.equal(plannedPixels(facts(4000, 3000), planCompression(facts(4000, 3000), DEFAULT_OPTIONS)), 12_000_000)
  t.equal(
    plannedPixels(facts(4000, 3000), planCompression(facts(4000, 3000), { ...DEFAULT_OPTIONS, max_width: 1000 })),
    1000 * 750
  )
  t.equal(
    plannedPixels(facts(4000, 3000, 6), planCompression(facts(4000, 3000, 6), { ...DEFAULT_OPTIONS, max_width: 1500 })),
    1500 * 2000,
    'orientation 6 turns it portrait first'
  )
  t.equal(
    plannedPixels(
      facts(400, 300),
      planCompression(facts(400, 300), { ...DEFAULT_OPTIONS, max_width: 1000, max_height: 1000 })
    ),
    120_000
  )
})

t.test('refuseOutput: a side longer than the output format allows is refused, after turning and fitting', async (t) => {
  const wide = facts(17_000, 20)
  t.equal(refuseOutput(wide, planCompression(wide, DEFAULT_OPTIONS)), null, 'JPEG takes 65,535 a side')
  t.equal(refuseOutput(wide, planCompression(wide, { ...DEFAULT_OPTIONS, format: 'png' })), null, 'PNG has no limit')
  t.match(refuseOutput(wide, planCompression(wide, { ...DEFAULT_OPTIONS, format: 'webp' })), {
    kind: 'dimension_limit',
    reason: /17000x20; WEBP allows at most 16383 pixels a side; set max_width/
  })
  t.match(refuseOutput(wide, planCompression(wide, { ...DEFAULT_OPTIONS, format: 'avif' })), {
    kind: 'dimension_limit',
    reason: /at most 16384/
  })
  t.equal(
    refuseOutput(wide, planCompression(wide, { ...DEFAULT_OPTIONS, format: 'webp', max_width: 16_000 })),
    null,
    'fitted inside the box first'
  )
  t.equal(
    refuseOutput(facts(16_384, 100), planCompression(facts(16_384, 100), { ...DEFAULT_OPTIONS, format: 'avif' })),
    null,
    'the limit itself is allowed'
  )
  const tall = facts(20, 70_000, 6)
  t.match(
    refuseOutput(tall, planCompression(tall, DEFAULT_OPTIONS)),
    { kind: 'dimension_limit', reason: /70000x20; JPEG allows at most 65535/ },
    'orientation 6 turns it first'
  )
})

t.test('refuseInput: format, then scans, then pixels', async (t) => {
  const limits = { maxPixels: 1_000_000, maxScans: 100 }
  t.equal(refuseInput({ ...facts(800, 800), scans: 100 }, limits), null, 'at the scan limit')
  t.match(refuseInput({ ...facts(800, 800), scans: 101 }, limits), {
    kind: 'scan_limit',
    reason: /more than 100 scans \(MAX_JPEG_SCANS\)/
  })
  t.equal(refuseInput(facts(800, 800), limits), null, 'not counted (not a JPEG): no refusal')
  t.match(refuseInput(facts(2000, 800), limits), { kind: 'pixel_limit' })
  t.match(refuseInput({ ...facts(800, 800), format: 'svg', scans: 5000 }, limits), { kind: 'unsupported_format' })
})

t.test('compressTimeLimit: a base and a share per megapixel, frames included; 0 turns it off', async (t) => {
  const limits = { timeoutSeconds: 30, timeoutSecondsPerMegapixel: 3 }
  t.equal(compressTimeLimit(facts(1000, 1000), limits), 33)
  t.equal(compressTimeLimit(facts(10_000, 10_000), limits), 330)
  t.equal(compressTimeLimit(facts(500, 500, 1, 10), limits), 38, '2.5 MP over ten frames, rounded up')
  t.equal(compressTimeLimit(facts(10_000, 10_000), { ...limits, timeoutSeconds: 0 }), 0)
})

t.test(
  'slotMegapixels: an image weighs its megapixels, frames included, and eight times that held decoded',
  async (t) => {
    t.equal(slotMegapixels(facts(4000, 3000), false), 12)
    t.equal(slotMegapixels(facts(1000, 800), true), 6.4, 'a quality search or an output set holds its pixels')
    t.equal(slotMegapixels(facts(500, 400, 1, 10), false), 2, 'an animation weighs every frame')
  }
)
