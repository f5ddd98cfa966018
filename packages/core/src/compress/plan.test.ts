import t from 'tap'
import { planCompression, plannedPixels, type InputFacts } from './plan.ts'
import { DEFAULT_OPTIONS } from '../requests/schema.ts'

const facts = (width: number, height: number, orientation = 1, pages = 1): InputFacts => ({ format: 'jpeg', width, height, pages, orientation, space: 'srgb', depth: 'uchar', hasProfile: false, hasExif: false })

t.test('quality: fixed numbers pass through; auto levels carry their floor, except for animations and GIF', async (t) => {
  t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 42 }), { quality: 42, auto: null })
  t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 'auto' }), { quality: 75, auto: { floor: 70 } })
  t.match(planCompression(facts(100, 100), { ...DEFAULT_OPTIONS, quality: 'auto:eco', format: 'webp' }), { auto: { floor: 60 } })
  t.match(planCompression(facts(100, 100, 1, 10), { ...DEFAULT_OPTIONS, quality: 'auto:high', format: 'webp' }), { animated: true, quality: 85, auto: null })
  t.match(planCompression({ ...facts(100, 100), format: 'gif' }, { ...DEFAULT_OPTIONS, quality: 'auto' }), { format: 'gif', auto: null })
})

t.test('plannedPixels: upright, fitted inside the box, never enlarged', async (t) => {
  t.equal(plannedPixels(facts(4000, 3000), planCompression(facts(4000, 3000), DEFAULT_OPTIONS)), 12_000_000)
  t.equal(plannedPixels(facts(4000, 3000), planCompression(facts(4000, 3000), { ...DEFAULT_OPTIONS, max_width: 1000 })), 1000 * 750)
  t.equal(plannedPixels(facts(4000, 3000, 6), planCompression(facts(4000, 3000, 6), { ...DEFAULT_OPTIONS, max_width: 1500 })), 1500 * 2000, 'orientation 6 turns it portrait first')
  t.equal(plannedPixels(facts(400, 300), planCompression(facts(400, 300), { ...DEFAULT_OPTIONS, max_width: 1000, max_height: 1000 })), 120_000)
})
