/**
 * The WebAssembly kernels against the TypeScript port they replace: every per-scale sum bit for bit (so every
 * score), on corpus photos at several JPEG and WebP qualities, odd and tiny sizes (the 4-lane loops' tails,
 * the 8×8 minimum, a last scale under 8 pixels), crops with a border and the coarse scales of a halved image.
 */

import { readFileSync } from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import {
  EVERY_CHANNEL,
  type LinearImage,
  type PartialSums,
  prepareReference,
  pyramidSums,
  type RgbImage,
  scaleCount,
  scoreFromSums,
  ssimulacra2,
  sumsAgainst,
  toLinear,
  weightedChannels
} from '../src/index.ts'
import { pool } from '../src/pool.ts'
import { corpus, distort, raw, rgb } from './images.ts'
import { linearHalved, prepareReferenceJs, sumsAgainstJs } from './ssimulacra2-js.ts'

/** Sums identical to the last bit, scale by scale, and pixel counts equal. */
function sameSums(t: Test, wasm: PartialSums, port: PartialSums, what: string) {
  t.same(wasm.pixels, port.pixels, `${what}: pixel counts`)
  t.equal(wasm.sums.length, port.sums.length, `${what}: scales`)
  const differing = wasm.sums.flatMap((s, scale) =>
    [...s].flatMap((v, k) =>
      Object.is(v, port.sums[scale]![k]) ? [] : [`scale ${scale} sum ${k}: ${v} ≠ ${port.sums[scale]![k]}`]
    )
  )
  t.same(differing, [], `${what}: every sum bit-identical`)
  t.ok(Math.abs(scoreFromSums(wasm) - scoreFromSums(port)) <= 1e-9, `${what}: score ${scoreFromSums(wasm).toFixed(4)}`)
}

const portSums = (first: LinearImage, second: LinearImage, scales: number, border = 0) =>
  sumsAgainstJs(prepareReferenceJs(first, scales), second, border)

const DISTORTIONS = [
  ['jpeg', 20],
  ['jpeg', 50],
  ['jpeg', 85],
  ['webp', 60]
] as const

for (const [name, size] of [
  ['astronaut.png', null],
  ['coffee.png', [599, 401]],
  ['flowers.jpeg', [1023, 577]]
] as const) {
  t.test(`${name}${size ? ` at ${size.join('×')}` : ''}: every trial against one prepared reference`, async (t) => {
    let source = sharp(readFileSync(path.join(corpus, name)))
    if (size) source = source.resize(size[0], size[1], { fit: 'fill' })
    const reference = await rgb(source)
    const prepared = prepareReference(toLinear(reference), 6)
    const port = prepareReferenceJs(toLinear(reference), 6)
    for (const [format, quality] of DISTORTIONS) {
      const distorted = toLinear(await distort(reference, format, quality))
      sameSums(t, sumsAgainst(prepared, distorted), sumsAgainstJs(port, distorted), `${format} q${quality}`)
    }
    t.equal(ssimulacra2(reference, reference), 100, 'identical images score 100')
  })
}

t.test(
  'tiny and odd sizes: every tail of the 4-lane loops, the 8×8 minimum, a last scale under 8 pixels',
  async (t) => {
    const photo = await rgb(sharp(readFileSync(path.join(corpus, 'chelsea.png'))))
    for (const [width, height] of [
      [8, 8],
      [9, 13],
      [13, 9],
      [10, 8],
      [11, 17],
      [16, 16],
      [33, 35],
      [70, 67],
      [129, 64]
    ] as const) {
      const reference = await rgb(raw(photo).resize(width, height, { fit: 'fill' }))
      const distorted = await distort(reference, 'jpeg', 30)
      sameSums(
        t,
        pyramidSums(toLinear(reference), toLinear(distorted), 6, 0),
        portSums(toLinear(reference), toLinear(distorted), 6),
        `${width}×${height}`
      )
    }
  }
)

t.test(
  'crops with a border (fine scales) and the halved image (coarse scales), as the sampled scorer uses them',
  async (t) => {
    const photo = await rgb(sharp(readFileSync(path.join(corpus, 'flowers.jpeg'))))
    const distorted = await distort(photo, 'webp', 50)
    for (const [left, top, width, height] of [
      [200, 300, 128, 128],
      [1001, 77, 131, 129]
    ] as const) {
      const crop = (img: RgbImage) => rgb(raw(img).extract({ left, top, width, height }))
      const [a, b] = [toLinear(await crop(photo)), toLinear(await crop(distorted))]
      for (const border of [24, 7])
        sameSums(
          t,
          pyramidSums(a, b, 3, border),
          portSums(a, b, 3, border),
          `crop ${width}×${height} at ${left},${top}, border ${border}`
        )
    }
    for (const times of [3, 1]) {
      const [a, b] = [linearHalved(photo, times), linearHalved(distorted, times)]
      sameSums(t, pyramidSums(a, b, 3, 0), portSums(a, b, 3), `halved ${times}×: ${a.width}×${a.height}`)
    }
  }
)

t.test(
  '8-bit images converted (and halved) strip by strip inside WebAssembly: the same sums as the port from its own linear planes',
  async (t) => {
    const photo = await rgb(sharp(readFileSync(path.join(corpus, 'flowers.jpeg'))).resize(1001, 563, { fit: 'fill' }))
    const distorted = await distort(photo, 'jpeg', 40)
    sameSums(
      t,
      sumsAgainst(prepareReference(photo, 6), distorted),
      portSums(toLinear(photo), toLinear(distorted), 6),
      'whole image from bytes'
    )
    // Odd sizes at every level, and images shorter than one strip.
    for (const [width, height, times] of [
      [1001, 563, 3],
      [1001, 563, 1],
      [333, 97, 2],
      [64, 9, 3],
      [77, 1100, 3]
    ] as const) {
      const [a, b] = await Promise.all(
        [photo, distorted].map((img) => rgb(raw(img).resize(width, height, { fit: 'fill' })))
      )
      sameSums(
        t,
        sumsAgainst(prepareReference(a!, 3, EVERY_CHANNEL, times), b!),
        portSums(linearHalved(a!, times), linearHalved(b!, times), 3),
        `${width}×${height} halved ${times}× from bytes`
      )
    }
    t.throws(
      () => sumsAgainst(prepareReference(photo, 3, EVERY_CHANNEL, 3), toLinear(distorted)),
      /8-bit/,
      'a halved reference takes 8-bit images only'
    )
    t.throws(
      () =>
        sumsAgainst(prepareReference(photo, 3), photo.width > 9 ? { ...distorted, width: photo.width - 1 } : distorted),
      /differ in size/
    )
  }
)

t.test(
  'weighted channels: those computed have the exact sums, the others 0, and scores move by under 0.001',
  async (t) => {
    t.same(
      weightedChannels(6),
      [[1], [0, 1], [0, 1], [0, 1, 2], [0, 1, 2], []],
      'six scales: Y alone at full size; X and Y at 1/2 and 1/4; none at 1/32'
    )
    t.same(
      [109, 96, 2725, 2225, 8, 8, 15, 300, 7, 100].flatMap((n, i, all) => (i % 2 ? [] : [scaleCount(n, all[i + 1]!)])),
      [5, 6, 2, 3, 0],
      'scales present'
    )
    t.same(
      [
        [109, 96],
        [8, 8],
        [15, 300]
      ].map(
        ([w, h]) => prepareReference({ data: new Uint8Array(w! * h! * 3), width: w!, height: h! }, 6).scales.length
      ),
      [5, 2, 3],
      'as many as a prepared reference has'
    )
    // Fewer scales shift which weight each (scale, channel) gets, as the reference takes them in order.
    for (const [name, size] of [
      ['astronaut.png', 700],
      ['alpha-premultiply-2048x1536-paper.png', 700],
      ['16-bit-grey-alpha.png', 200],
      ['chelsea.png', 40]
    ] as const) {
      const reference = await rgb(sharp(readFileSync(path.join(corpus, name))).resize(size, size, { fit: 'inside' }))
      const channels = weightedChannels(scaleCount(reference.width, reference.height))
      for (const [format, quality] of DISTORTIONS) {
        const distorted = await distort(reference, format, quality)
        const every = sumsAgainst(prepareReference(reference, 6), distorted)
        const weighted = sumsAgainst(prepareReference(reference, 6, channels), distorted)
        const wrong = weighted.sums.flatMap((s, scale) =>
          [...s].flatMap((v, k) => {
            const expected = channels[scale]!.includes(Math.floor(k / 6)) ? every.sums[scale]![k]! : 0
            return Object.is(v, expected) ? [] : [`scale ${scale} sum ${k}`]
          })
        )
        t.same(wrong, [], `${name} ${format} q${quality}: kept sums exact, skipped ones 0`)
        t.ok(
          Math.abs(scoreFromSums(weighted) - scoreFromSums(every)) < 0.001,
          `${name} ${format} q${quality}: ${scoreFromSums(every).toFixed(4)} → ${scoreFromSums(weighted).toFixed(4)}`
        )
      }
    }
  }
)

t.test("a released reference's memory serves the next one, whatever it held: the same sums bit for bit", async (t) => {
  const photo = await rgb(sharp(readFileSync(path.join(corpus, 'coffee.png'))).resize(401, 299, { fit: 'fill' }))
  const distorted = await distort(photo, 'jpeg', 35)
  // Leave noise everywhere a smaller reference will lay out its planes and scratch: a larger noisy one, used
  // with a halving (strip buffers) and a border, then released.
  const noise = {
    data: Uint8Array.from({ length: 520 * 410 * 3 }, (_, i) => (i * 2654435761) >>> 24),
    width: 520,
    height: 410
  }
  for (const times of [0, 2]) {
    const dirty = prepareReference(noise, 6, EVERY_CHANNEL, times)
    sumsAgainst(dirty, { ...noise, data: noise.data.map((v) => 255 - v) }, 9)
    dirty.release()
    const before = pool.idleBytes()
    const reused = prepareReference(photo, 6, EVERY_CHANNEL, times)
    t.ok(pool.idleBytes() < before, `halvings ${times}: the released memory was taken again`)
    const expected = times
      ? portSums(linearHalved(photo, times), linearHalved(distorted, times), 6)
      : portSums(toLinear(photo), toLinear(distorted), 6)
    sameSums(t, sumsAgainst(reused, distorted), expected, `halvings ${times}: on a reused memory`)
    reused.release()
    t.throws(() => sumsAgainst(reused, distorted), /released/, 'a released reference cannot be used')
    reused.release() // twice: nothing happens
  }
  t.ok(pool.idleBytes() <= 96 * 2 ** 20, `the pool keeps at most 96 MB (${(pool.idleBytes() / 2 ** 20).toFixed(1)} MB)`)
  const idle = pool.idleBytes()
  t.ok(idle > 0, 'released memories are idle in the pool')
  const large = prepareReference({ data: new Uint8Array(1500 * 1500 * 3), width: 1500, height: 1500 }, 6)
  t.equal(pool.idleBytes(), idle, 'a memory over 48 MB is a new one: the idle ones stay for the next references')
  large.release()
  t.equal(pool.idleBytes(), idle, 'and it is not kept')
})
