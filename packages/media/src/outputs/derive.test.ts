import { resolveOutputs } from '@imgproc/core'
import sharp from 'sharp'
import t from 'tap'
import {
  busyPhoto,
  cmykJpeg,
  OFF_WHITE,
  productOnOffWhite,
  smallProduct,
  transparentProduct
} from '../../test/product-images.ts'
import { makeOutputSet } from './derive.ts'

const MAX_PIXELS = 100_000_000
const outputsOf = (items: unknown[]) => {
  const read = resolveOutputs(items)
  if (!read.ok) throw new Error(read.problem)
  return read.value
}

/** The box of pixels that are not white (any channel below 235) in a decoded output. */
async function productBox(data: Buffer) {
  const { data: px, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  let left = info.width
  let right = -1
  let top = info.height
  let bottom = -1
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++) {
      const o = (y * info.width + x) * 3
      if (px[o]! < 235 || px[o + 1]! < 235 || px[o + 2]! < 235) {
        left = Math.min(left, x)
        right = Math.max(right, x)
        top = Math.min(top, y)
        bottom = Math.max(bottom, y)
      }
    }
  return {
    width: info.width,
    height: info.height,
    box: { left, top, width: right - left + 1, height: bottom - top + 1 }
  }
}

/** Every pixel of the outermost `band` rows and columns, RGB. */
async function borderPixels(data: Buffer, band = 4): Promise<number[][]> {
  const { data: px, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const out: number[][] = []
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++)
      if (y < band || y >= info.height - band || x < band || x >= info.width - band) {
        const o = (y * info.width + x) * 3
        out.push([px[o]!, px[o + 1]!, px[o + 2]!])
      }
  return out
}

t.test('amazon: an off-white noisy background is made white, trimmed, and the product centred at 87 %', async (t) => {
  const set = await makeOutputSet(await productOnOffWhite(), outputsOf(['amazon']), MAX_PIXELS)
  const [amazon] = set.outputs
  t.match(amazon!.compliance, {
    profile: 'amazon',
    verdict: 'fixed',
    changes: ['background made pure white', 'trimmed and centred: product fills 87 %'],
    problems: [],
    warnings: ['zoom needs at least 1000 px on the longest side; this is 690 × 690 px']
  })
  t.equal(amazon!.format, 'jpeg')
  t.equal((await sharp(amazon!.data).metadata()).format, 'jpeg')
  t.equal(amazon!.width, amazon!.height, 'a square canvas')
  const border = await borderPixels(amazon!.data)
  t.ok(
    border.every((p) => p.every((c) => c >= 254)),
    `border pixels are white (lowest ${Math.min(...border.flat())})`
  )
  const { width, box } = await productBox(amazon!.data)
  const fill = Math.max(box.width, box.height) / width
  t.ok(Math.abs(fill - 0.87) < 0.02, `the product fills ${fill.toFixed(3)} of the canvas`)
  t.ok(Math.abs(box.left + box.width / 2 - width / 2) <= 3, 'centred horizontally')
  t.ok(Math.abs(box.top + box.height / 2 - width / 2) <= 3, 'centred vertically')
  t.ok(
    Math.abs(box.width / box.height - OFF_WHITE.product.width / OFF_WHITE.product.height) < 0.02,
    'the product keeps its proportions'
  )
})

t.test('amazon and google: a transparent PNG is flattened on white; google never gets AVIF', async (t) => {
  const set = await makeOutputSet(await transparentProduct(), outputsOf(['amazon', 'google']), MAX_PIXELS)
  const [amazon, google] = set.outputs
  t.match(amazon!.compliance, {
    verdict: 'fixed',
    changes: ['transparency flattened on white', 'trimmed and centred: product fills 87 %'],
    problems: []
  })
  t.equal(amazon!.width, 575, 'the 500 px disc at 87 % of a 575 px square')
  t.ok(
    (await borderPixels(amazon!.data)).every((p) => p.every((c) => c >= 254)),
    'border white'
  )
  t.match(google!.compliance, { verdict: 'fixed', changes: ['transparency flattened on white'], problems: [] })
  t.equal(google!.format, 'jpeg')
  t.same([google!.width, google!.height], [1000, 1000], 'no border added, nothing trimmed, never enlarged')
  t.equal((await sharp(google!.data).metadata()).hasAlpha, false)
})

t.test('a CMYK JPEG is converted to sRGB and says so', async (t) => {
  const set = await makeOutputSet(cmykJpeg(), outputsOf(['google', 'web']), MAX_PIXELS)
  const google = set.outputs[0]!
  t.match(google.compliance, { verdict: 'fixed', changes: ['CMYK converted to sRGB'], problems: [] })
  for (const output of set.outputs) {
    const meta = await sharp(output.data).metadata()
    t.equal(meta.space, 'srgb', `${output.output.name} is sRGB`)
    t.not(output.format, 'gif')
  }
  t.ok(set.outputs.every((o) => o.output.name === 'google' || o.output.name.startsWith('web-')))
})

t.test('a 420 px image: amazon fails (under 500 px), web is never enlarged and made once per format', async (t) => {
  const set = await makeOutputSet(await smallProduct(), outputsOf(['amazon', 'web']), MAX_PIXELS)
  const [amazon, ...web] = set.outputs
  t.equal(amazon!.compliance!.verdict, 'fail')
  t.match(amazon!.compliance!.problems, [
    /under the 500 px on the longest side required; enlarging would invent pixels/
  ])
  t.ok(amazon!.width < 500 && amazon!.width === amazon!.height, `best effort still delivered: ${amazon!.width} px`)
  t.equal(web.length, 9)
  for (const output of web) t.ok(output.width <= 420, `${output.output.name}: ${output.width} px`)
  const made = new Set(web.map((o) => o.same))
  t.equal(made.size, 3, 'one encode per format: the 960 and 1600 variants are the 480 one')
  t.same(
    web.filter((o) => o.output.name.startsWith('web-1600')).map((o) => o.width),
    [420, 420, 420]
  )
})

t.test('amazon: a busy photograph fails with a reason, the best effort re-encoded as it is', async (t) => {
  const input = await busyPhoto()
  const set = await makeOutputSet(input, outputsOf(['amazon']), MAX_PIXELS)
  const amazon = set.outputs[0]!
  t.equal(amazon.compliance!.verdict, 'fail')
  t.match(amazon.compliance!.problems, [
    /the background is not one colour .*cannot be made white without cutting the product out/
  ])
  const meta = await sharp(input).metadata()
  t.same([amazon.width, amazon.height], [meta.width, meta.height], 'not trimmed or padded')
})

t.test('max_bytes: the quality is lowered first, then the size, and the verdict says which', async (t) => {
  const input = await productOnOffWhite()
  const quality = await makeOutputSet(
    input,
    outputsOf([{ name: 'small', format: 'jpeg', quality: 90, max_bytes: 60_000 }]),
    MAX_PIXELS
  )
  const byQuality = quality.outputs[0]!
  t.ok(byQuality.data.length <= 60_000, `${byQuality.data.length} bytes`)
  t.ok(byQuality.quality! < 90 && byQuality.quality! >= 40, `quality ${byQuality.quality}`)
  t.same([byQuality.width, byQuality.height], [1600, 1200], 'size kept while the quality could fit it')
  const reported = await makeOutputSet(
    input,
    outputsOf([{ name: 'g', format: 'jpeg', quality: 90, max_bytes: 60_000, profile: 'google' }]),
    MAX_PIXELS
  )
  t.match(reported.outputs[0]!.compliance!.changes, [/^quality lowered to \d+ to fit 60 kB$/])

  const size = await makeOutputSet(
    input,
    outputsOf([{ name: 'tiny', format: 'webp', quality: 80, max_bytes: 2_000, profile: 'google' }]),
    MAX_PIXELS
  )
  const bySize = size.outputs[0]!
  t.ok(bySize.data.length <= 2_000, `${bySize.data.length} bytes`)
  t.match(bySize.compliance, {
    verdict: 'fixed',
    changes: [/^downscaled to \d+ × \d+ px to fit 2 kB$/]
  })
  t.ok(bySize.width < 1600, `scaled to ${bySize.width} × ${bySize.height}`)
  t.equal(bySize.format, 'webp')
})

t.test('format auto takes the smallest of its formats; original keeps the input format', async (t) => {
  const set = await makeOutputSet(
    await productOnOffWhite(),
    outputsOf([
      { name: 'any', format: 'auto', formats: ['jpeg', 'webp'], quality: 80, width: 800 },
      { name: 'same', format: 'original', quality: 80, width: 800 }
    ]),
    MAX_PIXELS
  )
  const [any, same] = set.outputs
  t.ok(['jpeg', 'webp'].includes(any!.format))
  t.equal(same!.format, 'jpeg')
  const jpeg = await sharp(await productOnOffWhite())
    .resize(800)
    .jpeg({ quality: 80 })
    .toBuffer()
  t.ok(any!.data.length <= jpeg.length * 1.05, `${any!.format} ${any!.data.length} ≤ about a JPEG's ${jpeg.length}`)
})

t.test('fit cover and contain fill the box exactly; upscale is off unless asked', async (t) => {
  const set = await makeOutputSet(
    await smallProduct(),
    outputsOf([
      { name: 'cover', width: 300, height: 200, fit: 'cover', quality: 80 },
      { name: 'contain', width: 300, height: 200, fit: 'contain', quality: 80, background: '#000000' },
      { name: 'big', width: 800, quality: 80 },
      { name: 'bigger', width: 800, quality: 80, upscale: true }
    ]),
    MAX_PIXELS
  )
  t.same(
    set.outputs.map((o) => [o.output.name, o.width, o.height]),
    [
      ['cover', 300, 200],
      ['contain', 300, 200],
      ['big', 420, 420],
      ['bigger', 800, 800]
    ]
  )
  const { data } = await sharp(set.outputs[1]!.data).raw().toBuffer({ resolveWithObject: true })
  t.ok(data[0]! < 20, 'contain letterboxes with the background colour')
})

t.test("web's searches share their work, and every output still reaches its floor", async (t) => {
  // The set's searches share references per size, and each format's smaller widths are carried from its largest;
  // each output made alone searches cold. Both must deliver outputs whose own score reaches the floor.
  const input = await productOnOffWhite()
  const web = outputsOf(['web'])
  const set = await makeOutputSet(input, web, MAX_PIXELS)
  let together = 0
  let alone = 0
  for (const [i, output] of web.entries()) {
    const made = set.outputs[i]!
    t.ok(made.score !== undefined && made.score >= 70, `${output.name}: score ${made.score} at q${made.quality}`)
    const [single] = (await makeOutputSet(input, [output], MAX_PIXELS)).outputs
    t.ok(single!.score! >= 70, `${output.name} alone: score ${single!.score}`)
    together += made.data.length
    alone += single!.data.length
  }
  t.ok(together <= alone * 1.05, `the set's bytes ${together} within 5 % of the outputs made alone (${alone})`)
})
