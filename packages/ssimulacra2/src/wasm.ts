/**
 * The metric's pipeline on the WebAssembly kernels (../assembly/ssimulacra2.ts): the same steps as the oracle's
 * `prepareReferenceJs` and `sumsAgainstJs` (../test/ssimulacra2-js.ts), with the same results bit for bit.
 *
 * Memory: each prepared reference gets its own instance and memory, sized once for it (its planes at every
 * scale, and the working planes of its trials), from the pool of released ones (pool.ts).
 */

import * as port from './constants.ts'
import { type Instance, type Kernels, MAX_BYTES, pool } from './pool.ts'
import type { LinearImage, PartialSums, RgbImage, ScaleChannels } from './types.ts'

/** 8-bit images are brought in by strips of about this many pixels (whole rows, a multiple of 2^halvings). */
const STRIP_PIXELS = 65_536

/** Three planes (pointers), one per channel. */
type Planes = [number, number, number]

interface Scale {
  width: number
  height: number
  /** The reference's XYB planes, their blur μ₁ and the blur of their squares (σ₁² + μ₁²). */
  xyb: Planes
  mu: Planes
  sq: Planes
}

// Scratch of the kernels' passes (their layouts are in assembly/ssimulacra2.ts), known before an instance is
// taken: horizontal, two padded interleaved inputs and three interleaved sums (16 bytes a step); vertical, the
// recurrences' state (2 × 9 rows of f32), three output rows and a row of zeros.
const horizontalScratchBytes = (w: number) => (2 * (w + 3 * port.N + 1) + 3 * (w + port.N)) << 4
const verticalScratchBytes = (w: number) => {
  const wp = (w + 3) & ~3
  return 2 * 9 * wp * 4 + 4 * (wp * 4 + 16)
}

/** Bump allocation of 16-byte-aligned blocks, each with 16 bytes to spare (the kernels' 4-lane overreads). */
class Layout {
  end = 64
  take(bytes: number): number {
    const at = this.end
    this.end = (at + bytes + 16 + 15) & ~15
    return at
  }
  planes(pixels: number): Planes {
    return [this.take(4 * pixels), this.take(4 * pixels), this.take(4 * pixels)]
  }
}

export class WasmReference {
  /** The size of the images compared (before any halving). */
  readonly width: number
  readonly height: number
  readonly scales: Scale[] = []
  #instance: Instance | null
  /** Linear planes of the current scale and of the next (halving alternates between them). */
  readonly #linear: [Planes, Planes]
  /** The compared image's XYB planes; the horizontal pass's three planes; scratch of both passes; 18 sums. */
  readonly #xyb: Planes
  readonly #h: Planes
  readonly #hScratch: number
  readonly #vScratch: number
  readonly #sums: number
  readonly #channels: ScaleChannels
  readonly #halvings: number
  /** Rows of an 8-bit image per strip, the strip's bytes, and the halvings' working planes (two levels). */
  readonly #stripRows: number
  readonly #strip: number
  readonly #halving: [Planes, Planes]

  /**
   * Prepares `first` as the reference of comparisons over up to `scales` scales, in the channels `channels`
   * lists for each scale (the others' sums stay 0). An 8-bit `first` may be halved `halvings` times first (in
   * linear RGB, as the metric's pyramid does): the reference is then its coarser scales, and the images
   * compared with it are halved alike. 8-bit images are converted here, a strip at a time: no full-size float
   * plane of them exists on either side of the boundary.
   */
  constructor(first: LinearImage | RgbImage, scales: number, channels: ScaleChannels, halvings = 0) {
    if (halvings > 0 && 'planes' in first)
      throw new RangeError('SSIMULACRA2: only 8-bit images are halved on the way in')
    this.#channels = channels
    this.#halvings = halvings
    this.width = first.width
    this.height = first.height
    let [baseWidth, baseHeight] = [first.width, first.height]
    for (let k = 0; k < halvings; k++) [baseWidth, baseHeight] = [(baseWidth + 1) >> 1, (baseHeight + 1) >> 1]
    const unit = 2 ** halvings
    this.#stripRows = unit * Math.max(1, Math.floor(STRIP_PIXELS / (first.width * unit)))
    // Scale sizes first: every buffer is laid out before the memory is sized.
    const sizes: Array<[number, number]> = []
    for (let scale = 0, w = baseWidth, h = baseHeight; scale < scales; scale++) {
      // Checked before halving, as the reference does: the last scale may be smaller than 8 pixels.
      if (w < 8 || h < 8) break
      if (scale > 0) [w, h] = [(w + 1) >> 1, (h + 1) >> 1]
      sizes.push([w, h])
    }
    if (channels.length < sizes.length)
      throw new RangeError(`SSIMULACRA2: channels given for ${channels.length} of ${sizes.length} scales`)
    const layout = new Layout()
    const gauss = layout.take(6 * 4),
      opsin = layout.take(16 * 4),
      toLinear = layout.take(256 * 4)
    const pixels = baseWidth * baseHeight
    for (const [scale, [width, height]] of sizes.entries()) {
      // Planes only for the channels computed at this scale (0 for the others: never read).
      const planes = () =>
        [0, 1, 2].map((c) => (channels[scale]!.includes(c) ? layout.take(4 * width * height) : 0)) as Planes
      this.scales.push({ width, height, xyb: planes(), mu: planes(), sq: planes() })
    }
    this.#linear = [layout.planes(pixels), layout.planes(sizes.length > 1 ? sizes[1]![0] * sizes[1]![1] : 0)]
    this.#xyb = layout.planes(pixels)
    this.#h = layout.planes(pixels)
    this.#hScratch = layout.take(horizontalScratchBytes(baseWidth))
    this.#vScratch = layout.take(verticalScratchBytes(baseWidth))
    const rgb = !('planes' in first)
    this.#strip = rgb ? layout.take(3 * this.#stripRows * first.width) : 0
    const level = (k: number) => (halvings >= k ? ((first.width + 2 ** k - 1) >> k) * (this.#stripRows >> k) : 0)
    this.#halving = [layout.planes(level(1)), layout.planes(level(2))]
    this.#sums = layout.take(18 * 8)
    if (layout.end > MAX_BYTES) {
      throw new RangeError(
        `SSIMULACRA2: a ${first.width}×${first.height} image needs ${(layout.end / 2 ** 30).toFixed(1)} GiB of WebAssembly memory (at most 4)`
      )
    }
    // A pooled instance's memory holds whatever its last reference left: every kernel writes what it reads
    // (padding and recurrence state included), and the constants are written again here.
    this.#instance = pool.take(layout.end)
    const buffer = this.#memory.buffer
    new Float32Array(buffer, gauss, 6).set([port.IN1, port.IN3, port.IN5, port.D1, port.D3, port.D5])
    new Float32Array(buffer, opsin, 16).set([
      port.M00,
      port.M01,
      port.M02,
      port.M10,
      port.M11,
      port.M12,
      port.M20,
      port.M21,
      port.M22,
      port.BIAS,
      port.NEG_BIAS_CBRT,
      port.X_OFFSET,
      port.Y_OFFSET,
      port.B_OFFSET,
      port.C2,
      port.THIRD
    ])
    new Float32Array(buffer, toLinear, 256).set(port.TO_LINEAR)
    this.#k.init(port.N, gauss, opsin, port.CBRT_MAGIC, toLinear)

    const [h0, h1] = this.#h
    for (const [scale, { width: w, height: h, xyb, mu, sq }] of this.scales.entries()) {
      const lin = this.#linearAt(scale, first)
      if (channels[scale]!.length === 0) continue
      // Channels not kept are converted into the compared image's planes, free until the first trial.
      const [x, y, b] = xyb.map((p, c) => p || this.#xyb[c]!)
      this.#k.toXyb(lin[0], lin[1], lin[2], w * h, x!, y!, b!, +channels[scale]!.includes(2))
      for (const c of channels[scale]!) {
        // The comparison's first two blurs of (a, a): a and a² (no cross term: it would be a² again).
        this.#k.horizontal(xyb[c]!, xyb[c]!, w, h, 0, h0, h1, 0, this.#hScratch)
        this.#k.verticalStore(w, h, h0, h1, mu[c]!, sq[c]!, this.#vScratch)
      }
    }
  }

  get #memory(): WebAssembly.Memory {
    if (!this.#instance) throw new Error('SSIMULACRA2: this reference was released')
    return this.#instance.memory
  }

  get #k(): Kernels {
    if (!this.#instance) throw new Error('SSIMULACRA2: this reference was released')
    return this.#instance.kernels
  }

  /** Hands the instance to the pool; the reference cannot be used after. Releasing twice does nothing. */
  release(): void {
    if (this.#instance) pool.give(this.#instance)
    this.#instance = null
  }

  /** The linear planes at `scale`: the image's own at 0, each next one halved from the previous one. */
  #linearAt(scale: number, image: LinearImage | RgbImage): Planes {
    if (scale === 0) {
      if ('planes' in image) {
        for (const [c, plane] of image.planes.entries()) {
          new Float32Array(this.#memory.buffer, this.#linear[0][c]!, plane.length).set(plane)
        }
      } else this.#load(image)
    } else {
      const from = this.#linear[(scale - 1) % 2]!,
        to = this.#linear[scale % 2]!
      const { width, height } = this.scales[scale - 1]!
      for (let c = 0; c < 3; c++) this.#k.downscale(from[c]!, width, height, to[c]!)
    }
    return this.#linear[scale % 2]!
  }

  /** An 8-bit image → the linear planes of scale 0, through the strip: converted, then halved `halvings` times. */
  #load(image: RgbImage): void {
    const { width: w, height: h } = image,
      out = this.#linear[0],
      outWidth = this.scales[0]!.width
    const bytes = new Uint8Array(this.#memory.buffer)
    const offset = (planes: Planes, pixels: number) => planes.map((p) => p + 4 * pixels) as Planes
    let outRow = 0
    for (let y = 0; y < h; y += this.#stripRows) {
      const rows = Math.min(this.#stripRows, h - y)
      bytes.set(image.data.subarray(y * w * 3, (y + rows) * w * 3), this.#strip)
      if (this.#halvings === 0) {
        this.#k.linearPlanes(this.#strip, rows * w, ...offset(out, y * w))
        continue
      }
      // A strip is a whole number of 2^halvings rows (but the last): every 2×2 average stays inside it, and
      // the last strip's odd rows repeat as the whole image's would.
      let from: Planes | null = null,
        sw = w,
        sh = rows
      for (let k = 1; k <= this.#halvings; k++) {
        const to = k === this.#halvings ? offset(out, outRow * outWidth) : this.#halving[(k - 1) % 2]!
        if (from) for (let c = 0; c < 3; c++) this.#k.downscale(from[c]!, sw, sh, to[c]!)
        else this.#k.halvedLinearPlanes(this.#strip, sw, sh, ...to)
        from = to
        sw = (sw + 1) >> 1
        sh = (sh + 1) >> 1
      }
      outRow += sh
    }
  }

  /** See `sumsAgainst` in ssimulacra2.ts. */
  sumsAgainst(second: LinearImage | RgbImage, border: number): PartialSums {
    if (second.width !== this.width || second.height !== this.height)
      throw new RangeError('SSIMULACRA2: images differ in size')
    if (this.#halvings > 0 && 'planes' in second)
      throw new RangeError('SSIMULACRA2: only 8-bit images are halved on the way in')
    const result: PartialSums = { sums: [], pixels: [] }
    const [h0, h1, h2] = this.#h,
      x2 = this.#xyb
    for (const [scale, ref] of this.scales.entries()) {
      const w = ref.width,
        h = ref.height
      const lin = this.#linearAt(scale, second)
      const edge = Math.ceil(border / 2 ** scale)
      const sums = new Float64Array(this.#memory.buffer, this.#sums, 18)
      sums.fill(0)
      const channels = this.#channels[scale]!
      if (channels.length > 0) this.#k.toXyb(lin[0], lin[1], lin[2], w * h, x2[0], x2[1], x2[2], +channels.includes(2))
      for (const c of channels) {
        this.#k.horizontal(ref.xyb[c]!, x2[c]!, w, h, 1, h0, h1, h2, this.#hScratch)
        this.#k.verticalSsim(
          w,
          h,
          h0,
          h1,
          h2,
          ref.xyb[c]!,
          x2[c]!,
          ref.mu[c]!,
          ref.sq[c]!,
          edge,
          this.#sums + c * 6 * 8,
          this.#vScratch
        )
      }
      result.sums.push(sums.slice())
      result.pixels.push(Math.max(0, w - 2 * edge) * Math.max(0, h - 2 * edge))
    }
    return result
  }
}
