import t from 'tap'
import type { RawImage } from '../quality/pixels.ts'
import {
  analyseBackground,
  backgroundKind,
  contentBox,
  floodBackground,
  hasTransparency,
  paintBackground
} from './background.ts'

/** A `width` × `height` RGB image of `colour` with noise ±`noise`, and a dark product box drawn on it. */
function image(
  width: number,
  height: number,
  colour: number[],
  noise: number,
  product?: { left: number; top: number; width: number; height: number }
): RawImage {
  const data = Buffer.alloc(width * height * 3)
  let seed = 7
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff
        const inside =
          product &&
          x >= product.left &&
          x < product.left + product.width &&
          y >= product.top &&
          y < product.top + product.height
        const v = inside ? 40 + c * 30 : colour[c]! + ((seed >> 16) % (2 * noise + 1)) - noise
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, v))
      }
  return { data, width, height, channels: 3 }
}

t.test('an off-white noisy background: light, its product boxed', async (t) => {
  const product = { left: 50, top: 30, width: 60, height: 40 }
  const analysis = analyseBackground(image(200, 100, [240, 238, 230], 6, product))
  t.equal(analysis.facts.kind, 'light')
  t.ok(analysis.facts.uniform > 0.99)
  t.same(analysis.box, product)
  t.equal(analysis.facts.fill, 0.4, 'the product spans 40 % of the height, 30 % of the width')
})

t.test('white, busy and dark backgrounds', async (t) => {
  t.equal(
    analyseBackground(image(100, 100, [255, 255, 255], 2, { left: 10, top: 10, width: 80, height: 80 })).facts.kind,
    'white'
  )
  const busy: RawImage = { data: Buffer.alloc(100 * 100 * 3), width: 100, height: 100, channels: 3 }
  for (let i = 0; i < busy.data.length; i++) busy.data[i] = (i * 7919) % 256
  const analysis = analyseBackground(busy)
  t.equal(analysis.facts.kind, 'busy')
  t.same(analysis.box, { left: 0, top: 0, width: 100, height: 100 }, 'no background: the whole frame')
  t.equal(analysis.mask, null)
  t.equal(
    analyseBackground(image(100, 100, [30, 30, 40], 3, { left: 10, top: 10, width: 20, height: 20 })).facts.kind,
    'dark'
  )
  t.equal(backgroundKind({ colour: [200, 200, 200], uniform: 0.89, white: 0 }), 'busy', 'under 90 % one colour')
  t.equal(backgroundKind({ colour: [200, 190, 175], uniform: 0.95, white: 0 }), 'light')
  t.equal(backgroundKind({ colour: [160, 200, 200], uniform: 0.95, white: 0 }), 'dark', 'one channel under 170')
})

t.test('the flood fill keeps a product’s own light parts that do not touch the background', async (t) => {
  // A dark ring around a light centre of the background's colour: the centre is the product's.
  const img = image(60, 60, [240, 240, 240], 0, { left: 10, top: 10, width: 40, height: 40 })
  for (let y = 20; y < 40; y++) for (let x = 20; x < 40; x++) img.data.fill(240, (y * 60 + x) * 3, (y * 60 + x) * 3 + 3)
  const mask = floodBackground(img, [240, 240, 240])
  t.equal(mask[30 * 60 + 30], 0, 'the enclosed light centre is not background')
  t.equal(mask[0], 1)
  t.same(contentBox(mask, 60, 60), { left: 10, top: 10, width: 40, height: 40 })
  const painted = paintBackground(img, mask, [255, 255, 255])
  t.same([...painted.data.subarray(0, 3)], [255, 255, 255], 'background painted')
  t.same(
    [...painted.data.subarray((30 * 60 + 30) * 3, (30 * 60 + 30) * 3 + 3)],
    [240, 240, 240],
    'the product untouched'
  )
  t.same([...img.data.subarray(0, 3)], [240, 240, 240], 'the source untouched')
})

t.test('specks of noise do not stretch the box; transparency counts as white', async (t) => {
  const img = image(200, 200, [245, 245, 245], 0, { left: 80, top: 80, width: 40, height: 40 })
  img.data.fill(0, (5 * 200 + 5) * 3, (5 * 200 + 5) * 3 + 3) // one dark speck near the corner
  t.same(analyseBackground(img).box, { left: 80, top: 80, width: 40, height: 40 })
  const rgba: RawImage = { data: Buffer.alloc(20 * 20 * 4), width: 20, height: 20, channels: 4 }
  for (let i = 0; i < 400; i++) rgba.data[i * 4 + 3] = i % 20 >= 5 && i % 20 < 15 && i >= 100 && i < 300 ? 255 : 0
  t.ok(hasTransparency(rgba))
  t.equal(analyseBackground(rgba).facts.kind, 'white', 'transparent pixels are white on a page')
  t.same(analyseBackground(rgba).box, { left: 5, top: 5, width: 10, height: 10 })
  t.notOk(hasTransparency(img))
})
