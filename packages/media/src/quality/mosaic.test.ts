import t from 'tap'
import { canTile, mosaic, mosaicOptimism, PROXY_PIXELS } from './mosaic.ts'
import type { RawImage } from './pixels.ts'

/** An image whose every pixel holds its own coordinates: x and y, low and high bytes. */
function coordinates(width: number, height: number): RawImage {
  const data = Buffer.alloc(width * height * 4)
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([x & 255, x >> 8, y & 255, y >> 8], (y * width + x) * 4)
  return { data, width, height, channels: 4 }
}

const at = (img: RawImage, x: number, y: number) => {
  const i = (y * img.width + x) * img.channels
  return { x: img.data[i]! + 256 * img.data[i + 1]!, y: img.data[i + 2]! + 256 * img.data[i + 3]! }
}

t.test('the mosaic: 4×4 tiles of 64 px from the middles of the cells, on the 16-pixel grid', async (t) => {
  const image = coordinates(1000, 700)
  const proxy = mosaic(image)
  t.same([proxy.width, proxy.height, proxy.channels], [256, 256, 4])
  t.equal(proxy.width * proxy.height, PROXY_PIXELS)
  for (let gy = 0; gy < 4; gy++)
    for (let gx = 0; gx < 4; gx++) {
      const origin = at(proxy, gx * 64, gy * 64)
      t.ok(origin.x % 16 === 0 && origin.y % 16 === 0, `tile ${gx},${gy} at ${origin.x},${origin.y}: on the grid`)
      t.ok(
        Math.abs(origin.x + 32 - ((gx + 0.5) * 1000) / 4) <= 16 &&
          Math.abs(origin.y + 32 - ((gy + 0.5) * 700) / 4) <= 16,
        'centred on its cell'
      )
      let whole = true
      for (let y = 0; y < 64; y++)
        for (let x = 0; x < 64; x++) {
          const p = at(proxy, gx * 64 + x, gy * 64 + y)
          whole &&= p.x === origin.x + x && p.y === origin.y + y
        }
      t.ok(whole, 'a full-resolution cut, pixel for pixel')
    }
})

t.test('tiles stay inside an image barely larger than one; thinner ones cannot be tiled', async (t) => {
  const narrow = mosaic(coordinates(64, 300))
  for (let gx = 0; gx < 4; gx++) t.equal(at(narrow, gx * 64, 0).x, 0, `tile ${gx} starts at the left edge`)
  t.ok(canTile(64, 64))
  t.notOk(canTile(63, 5000), 'thinner than a tile: downscaled instead')
  t.throws(() => mosaic(coordinates(63, 500)), RangeError)
})

t.test("the mosaic's optimism: more at lower scores and for larger images, within bounds", async (t) => {
  const oneMegapixel = PROXY_PIXELS * 16
  t.equal(mosaicOptimism(80, oneMegapixel), 1.5)
  t.equal(mosaicOptimism(70, oneMegapixel), 2.5)
  t.equal(mosaicOptimism(60, oneMegapixel), 3.5)
  t.equal(mosaicOptimism(95, oneMegapixel), 1, 'at least 1 point near the top')
  t.equal(mosaicOptimism(80, PROXY_PIXELS * 2), 0.75, 'images near the mosaic size: half')
  t.equal(mosaicOptimism(80, 40e6), 1.5 * 1.75, 'the largest: at most 1.75×')
})
