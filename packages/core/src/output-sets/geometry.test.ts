import t from 'tap'
import { boxFill, fillOf, limitScale, placeImage } from './geometry.ts'

const ask = (over: Partial<Parameters<typeof placeImage>[1]>) => ({
  width: null,
  height: null,
  fit: 'inside' as const,
  fill: null,
  upscale: false,
  ...over
})

t.test('inside: within the box, aspect kept, never enlarged unless upscale', async (t) => {
  t.match(placeImage({ width: 2000, height: 1000 }, ask({ width: 480 })), {
    resize: { width: 480, height: 240 },
    canvas: { width: 480, height: 240 },
    left: 0,
    top: 0
  })
  t.match(placeImage({ width: 420, height: 300 }, ask({ width: 1600 })), {
    resize: { width: 420, height: 300 },
    scale: 1
  })
  t.match(placeImage({ width: 420, height: 300 }, ask({ width: 840, upscale: true })), {
    resize: { width: 840, height: 600 }
  })
  t.match(placeImage({ width: 4000, height: 3000 }, ask({ width: 1000, height: 1000 })), {
    resize: { width: 1000, height: 750 }
  })
})

t.test('limits: a side and a pixel count the output must stay within', async (t) => {
  t.match(placeImage({ width: 12000, height: 6000 }, ask({}), { maxSide: 10_000, maxPixels: Infinity }), {
    resize: { width: 10000, height: 5000 }
  })
  const big = placeImage({ width: 10000, height: 8000 }, ask({}), { maxSide: Infinity, maxPixels: 64_000_000 })
  t.ok(big.resize.width * big.resize.height <= 64_000_000, `${big.resize.width} × ${big.resize.height}`)
  t.equal(limitScale({ width: 100, height: 100 }, { maxSide: 1000, maxPixels: 1e9 }), 1, 'never above 1')
})

t.test('cover and contain: the box exactly; without upscale a box larger than the image shrinks with it', async (t) => {
  t.match(placeImage({ width: 400, height: 400 }, ask({ width: 300, height: 200, fit: 'cover' })), {
    resize: { width: 300, height: 300 },
    canvas: { width: 300, height: 200 },
    left: 0,
    top: -50
  })
  t.match(placeImage({ width: 400, height: 400 }, ask({ width: 300, height: 200, fit: 'contain' })), {
    resize: { width: 200, height: 200 },
    canvas: { width: 300, height: 200 },
    left: 50,
    top: 0
  })
  t.match(placeImage({ width: 100, height: 100 }, ask({ width: 300, height: 200, fit: 'contain' })), {
    resize: { width: 100, height: 100 },
    canvas: { width: 150, height: 100 },
    scale: 1
  })
})

t.test('pad: the image centred on a canvas it fills to `fill`', async (t) => {
  const amazon = ask({ width: 10000, height: 10000, fit: 'pad', fill: 0.87 })
  const placed = placeImage({ width: 600, height: 500 }, amazon, { maxSide: 10_000, maxPixels: Infinity })
  t.match(placed, {
    resize: { width: 600, height: 500 },
    canvas: { width: 690, height: 690 },
    left: 45,
    top: 95,
    scale: 1
  })
  t.ok(Math.abs(fillOf(placed) - 0.87) < 0.005, 'fills 87 %')
  const huge = placeImage({ width: 12000, height: 3000 }, amazon, { maxSide: 10_000, maxPixels: Infinity })
  t.match(huge, { canvas: { width: 10000, height: 10000 } }, 'a canvas past the limit scales down, fill kept')
  t.ok(Math.abs(fillOf(huge) - 0.87) < 0.005)
  const wide = placeImage({ width: 500, height: 500 }, ask({ width: 2000, height: 1000, fit: 'pad', fill: 0.8 }))
  t.match(wide, { canvas: { width: 1250, height: 625 }, resize: { width: 500, height: 500 } }, "the box's aspect")
})

t.test('fill: the longest extent as a share of the frame', async (t) => {
  t.equal(boxFill({ width: 600, height: 500 }, { width: 1600, height: 1200 }), 0.4166666666666667)
  t.equal(fillOf({ resize: { width: 87, height: 50 }, canvas: { width: 100, height: 100 } }), 0.87)
})
