import t from 'tap'
import { type BackgroundFacts, backgroundPlan, judge, type MadeOutput, PROFILES } from './compliance.ts'

const made = (over: Partial<MadeOutput> = {}): MadeOutput => ({
  width: 2000,
  height: 2000,
  bytes: 500_000,
  format: 'jpeg',
  source: { width: 2000, height: 2000, cmyk: false, transparent: false },
  background: null,
  whitened: false,
  padded: null,
  limited: false,
  fitBytes: null,
  ...over
})
const bg = (kind: BackgroundFacts['kind'], fill = 0.5): BackgroundFacts => ({
  kind,
  colour: [250, 250, 250],
  uniform: 0.99,
  fill
})

t.test('pass: the source met the rules and was only re-encoded', async (t) => {
  t.same(judge('google', made()), { profile: 'google', verdict: 'pass', changes: [], problems: [], warnings: [] })
  t.same(judge('amazon', made({ background: bg('white', 0.9) })).verdict, 'pass')
})

t.test('fixed: the changes made are listed in words', async (t) => {
  const fixed = judge(
    'amazon',
    made({
      source: { width: 12000, height: 9000, cmyk: true, transparent: true },
      background: bg('light'),
      whitened: true,
      padded: 0.8712,
      limited: true,
      width: 10000,
      height: 10000
    })
  )
  t.same(fixed.changes, [
    'CMYK converted to sRGB',
    'transparency flattened on white',
    'background made pure white',
    'trimmed and centred: product fills 87 %',
    'downscaled to 10000 × 10000 px (at most 10,000 px a side)'
  ])
  t.equal(fixed.verdict, 'fixed')
  t.same(
    judge('google', made({ source: { width: 1, height: 1, cmyk: false, transparent: true }, format: 'png' })).changes,
    [],
    'PNG keeps transparency'
  )
  t.same(judge('ebay', made({ fitBytes: { by: 'quality', quality: 71, maxBytes: 12_000_000 } })).changes, [
    'quality lowered to 71 to fit 12 MB'
  ])
})

t.test('fail: what cannot be met without inventing pixels', async (t) => {
  const small = judge('amazon', made({ width: 420, height: 420, background: bg('white', 0.9) }))
  t.equal(small.verdict, 'fail')
  t.same(small.problems, [
    '420 × 420 px is under the 500 px on the longest side required; enlarging would invent pixels'
  ])
  t.same(small.warnings, [], 'no advice about zoom once it fails on size')
  const zoom = judge('amazon', made({ width: 800, height: 600, background: bg('white', 0.9) }))
  t.equal(zoom.verdict, 'pass')
  t.same(zoom.warnings, ['zoom needs at least 1000 px on the longest side; this is 800 × 600 px'])
  const busy = judge('amazon', made({ background: { kind: 'busy', colour: [90, 120, 40], uniform: 0.41, fill: 1 } }))
  t.same(busy.problems, [
    'the background is not one colour (41 % of the border is): it cannot be made white without cutting the product out'
  ])
  const dark = judge('amazon', made({ background: { kind: 'dark', colour: [20, 20, 20], uniform: 0.98, fill: 0.5 } }))
  t.match(dark.problems, [/dark colour \(rgb 20, 20, 20\)/])
  t.match(judge('google', made({ width: 90, height: 400 })).problems, [
    /90 × 400 px is under the 100 × 100 px required/
  ])
  t.match(judge('google', made({ bytes: 17_000_000 })).problems, [/17 MB is over the 16 MB limit/])
  t.match(judge('google', made({ format: 'avif' })).problems, ['avif is not accepted'])
  t.same(judge('google', made({ width: 240, height: 240 })).warnings.length, 2, 'apparel 250, and the 2027 500 × 500')
})

t.test('background plan: make white and trim only what can be, leave alone what already complies', async (t) => {
  const amazon = PROFILES.amazon
  t.same(backgroundPlan(amazon, true, bg('light')), { whiten: true, trim: true })
  t.same(backgroundPlan(amazon, true, bg('white', 0.5)), { whiten: false, trim: true })
  t.same(backgroundPlan(amazon, true, bg('white', 0.9)), { whiten: false, trim: false }, 'already fills 85 %')
  t.same(backgroundPlan(amazon, true, bg('busy')), { whiten: false, trim: false })
  t.same(backgroundPlan(amazon, true, bg('dark')), { whiten: false, trim: false })
  t.same(backgroundPlan(null, true, bg('white', 0.9)), { whiten: false, trim: true }, 'a plain trim always trims')
  t.same(backgroundPlan(null, false, bg('light')), { whiten: false, trim: false })
  t.same(backgroundPlan(amazon, true, null), { whiten: false, trim: false })
})
