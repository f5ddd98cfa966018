import t from 'tap'
import { readOutputsField, resolveOutputs } from './presets.ts'
import { MAX_OUTPUTS } from './spec.ts'

const problem = (raw: unknown) => {
  const read = readOutputsField(raw)
  return read.ok ? null : read.problem
}

t.test('a comma list of presets expands each preset, in order', async (t) => {
  const read = readOutputsField(' web , amazon,google')
  if (!read.ok) return t.fail(read.problem)
  t.same(
    read.value.map((o) => o.name),
    [...['480', '960', '1600'].flatMap((w) => ['avif', 'webp', 'jpeg'].map((f) => `web-${w}-${f}`)), 'amazon', 'google']
  )
  t.same(read.items, ['web', 'amazon', 'google'], 'the items as sent, for the form schema')
  const web = read.value[0]!
  t.same(web, {
    name: 'web-480-avif',
    preset: 'web',
    format: 'avif',
    formats: [],
    width: 480,
    height: null,
    fit: 'inside',
    background: '#ffffff',
    trim: false,
    fill: null,
    quality: 'auto',
    max_bytes: null,
    upscale: false,
    profile: null
  })
  t.match(read.value.at(-2), {
    name: 'amazon',
    format: 'jpeg',
    fit: 'pad',
    fill: 0.87,
    trim: true,
    width: 10000,
    max_bytes: 10_000_000,
    profile: 'amazon'
  })
  t.match(read.value.at(-1), {
    name: 'google',
    format: 'jpeg',
    fit: 'inside',
    trim: false,
    max_bytes: 16_000_000,
    profile: 'google'
  })
})

t.test('a JSON array mixes presets and specs; a resolved spec is the same JSON however it was written', async (t) => {
  const a = readOutputsField('["google", {"name": "thumb", "width": 200, "format": "webp", "quality": 80}]')
  const b = readOutputsField('[{"quality": 80, "format": "webp", "width": 200, "name": "thumb"}]')
  if (!a.ok || !b.ok) return t.fail('both read')
  t.equal(JSON.stringify(a.value[1]), JSON.stringify(b.value[0]))
  t.same(readOutputsField(['web', '[{"name":"x"}]']).ok, true, 'a repeated field: each value read')
  const auto = resolveOutputs([{ name: 'a', format: 'auto' }])
  t.ok(auto.ok && auto.value[0]!.formats.length === 3, 'format auto lists avif, webp and jpeg by default')
})

t.test('every problem names the field', async (t) => {
  t.match(
    problem('web,ebay,etsy'),
    /^outputs\[2\]: unknown preset "etsy"; presets are web, amazon, google, ebay, shopify$/
  )
  t.match(problem('[{"name": "Big"}]'), /^outputs\[0\]\.name: expected lowercase letters, digits and hyphens/)
  t.match(problem('[{"name": "a", "width": 0}]'), /^outputs\[0\]\.width: expected an integer from 1 to 16384; got 0$/)
  t.match(problem('[{"name": "a", "quality": 101}]'), /^outputs\[0\]\.quality: expected an integer from 1 to 100/)
  t.match(problem('[{"name": "a", "colour": "red"}]'), /^outputs\[0\]: unknown field "colour"/)
  t.match(problem('[{"width": 10}]'), /^outputs\[0\]\.name: required$/)
  t.match(problem('[{"name": "a", "formats": ["webp"]}]'), /^outputs\[0\]\.formats: only with format "auto"$/)
  t.match(problem('[{"name": "a", "fill": 0.9}]'), /^outputs\[0\]\.fill: only with fit "pad"$/)
  t.match(
    problem('[{"name": "a", "fit": "cover", "width": 10}]'),
    /^outputs\[0\]\.fit: "cover" needs both width and height$/
  )
  t.match(
    problem('[{"name": "g", "format": "avif", "profile": "google"}]'),
    /^outputs\[0\]\.format: google does not take avif; it takes jpeg, png, webp, gif$/
  )
  t.match(problem('[{"name": "a", "max_bytes": 10}]'), /^outputs\[0\]\.max_bytes: expected an integer from 1024/)
  t.match(problem('web,web'), /^outputs: the name "web-480-avif" is used twice; names must be unique$/)
  t.match(problem('[{"name":'), /^outputs: not a JSON array/)
  t.match(problem('{"name": "a"}'), /^outputs: send specs as a JSON array/)
  t.match(problem(''), /^outputs\[0\]: unknown preset ""/)
  t.match(problem('[]'), /^outputs: name at least one preset or spec$/)
  const many = JSON.stringify(Array.from({ length: MAX_OUTPUTS + 1 }, (_, i) => ({ name: `o${i}` })))
  t.match(problem(many), new RegExp(`^outputs: ${MAX_OUTPUTS + 1} outputs; at most ${MAX_OUTPUTS} per image$`))
})
