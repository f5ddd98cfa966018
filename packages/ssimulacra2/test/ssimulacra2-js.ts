/**
 * The test oracle: SSIMULACRA2's kernels and pipeline in TypeScript (`prepareReferenceJs`, `sumsAgainstJs`) as
 * the readable reference of the metric, and `linearHalved`, the reference for the halving done in WebAssembly.
 * Production scores run those kernels as WebAssembly (../assembly/ssimulacra2.ts, driven by ../src/wasm.ts),
 * which wasm.test.ts holds bit-identical to these. The port's constants and its conversion to linear RGB ship
 * with the metric (../src/constants.ts, ../src/linear.ts); the public API, and what the metric is, are in
 * ../src/ssimulacra2.ts.
 */
import {
  B_OFFSET,
  BIAS,
  bitsFloat,
  C2,
  CBRT_MAGIC,
  D1,
  D3,
  D5,
  floatBits,
  IN1,
  IN3,
  IN5,
  M00,
  M01,
  M02,
  M10,
  M11,
  M12,
  M20,
  M21,
  M22,
  N,
  NEG_BIAS_CBRT,
  THIRD,
  X_OFFSET,
  Y_OFFSET
} from '../src/constants.ts'
import { linearPlane } from '../src/linear.ts'
import type { LinearImage, PartialSums, RgbImage } from '../src/types.ts'

/** Math.fround: the port rounds to float32 where the reference does (see ../src/constants.ts). */
const f = Math.fround

/**
 * Cube root of the opsin mixes (float32, in [0, ~1.004]), as the WebAssembly computes four at a time: a guess
 * from the float's bits (within 3.3%) and a Halley step in float32 bring it within ~4e-5, then a Halley step in
 * double to ~1e-14, rounded: equal to Math.cbrt's float32 (no mismatch in 4M random inputs), as the table and
 * two double steps it replaced were, with half their double divisions and no table lookups.
 */
function cbrt(x: number): number {
  if (!(x > 0)) return 0
  let y = bitsFloat(Math.trunc(f(f(floatBits(x)) * THIRD)) + CBRT_MAGIC)
  const y3 = f(f(y * y) * y)
  y = f(y - f(f(y * f(y3 - x)) / f(f(y3 + y3) + x)))
  const z3 = y * y * y
  return (y * (z3 + 2 * x)) / (2 * z3 + x)
}

/** Linear RGB planes → "positive" XYB planes (the offsets SSIMULACRA2 applies so every value is in 0..1). */
function toPositiveXyb(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  x: Float32Array,
  y: Float32Array,
  bb: Float32Array
) {
  for (let i = 0; i < r.length; i++) {
    const R = r[i]!,
      G = g[i]!,
      B = b[i]!
    const l = f(f(cbrt(f(M00 * R + f(M01 * G + f(M02 * B + BIAS))))) + NEG_BIAS_CBRT)
    const m = f(f(cbrt(f(M10 * R + f(M11 * G + f(M12 * B + BIAS))))) + NEG_BIAS_CBRT)
    const s = f(f(cbrt(f(M20 * R + f(M21 * G + f(M22 * B + BIAS))))) + NEG_BIAS_CBRT)
    const X = f(0.5 * f(l - m))
    const Y = f(0.5 * f(l + m))
    x[i] = f(X * 14 + X_OFFSET)
    y[i] = f(Y + Y_OFFSET)
    bb[i] = f(f(s - Y) + B_OFFSET)
  }
}

/**
 * Buffers for blurring images of up to `maxPixels` (rows up to `maxWidth`), reused across scales and trials:
 * allocating and zeroing ~10 planes per score cost more than the blur's arithmetic.
 */
class Workspace {
  /** Horizontal-pass results of the three blurred planes. */
  readonly h0: Float32Array
  readonly h1: Float32Array
  readonly h2: Float32Array
  /** One row of each vertical-pass result. */
  readonly r0: Float32Array
  readonly r1: Float32Array
  readonly r2: Float32Array
  /** Rows of the two inputs with 2N zeros before and N after (the reference's zero padding, branch-free). */
  readonly padA: Float32Array
  readonly padB: Float32Array
  readonly zeros: Float32Array
  /** The vertical recursions' state, 9 per column: rows n−1 and n−2, swapped every row. */
  stateA: Float32Array
  stateB: Float32Array
  /** The compared image's XYB planes at the current scale. */
  readonly xyb: Planes
  constructor(
    readonly maxPixels: number,
    readonly maxWidth: number
  ) {
    this.xyb = [new Float32Array(maxPixels), new Float32Array(maxPixels), new Float32Array(maxPixels)]
    this.h0 = new Float32Array(maxPixels)
    this.h1 = new Float32Array(maxPixels)
    this.h2 = new Float32Array(maxPixels)
    this.r0 = new Float32Array(maxWidth)
    this.r1 = new Float32Array(maxWidth)
    this.r2 = new Float32Array(maxWidth)
    this.padA = new Float32Array(maxWidth + 3 * N)
    this.padB = new Float32Array(maxWidth + 3 * N)
    this.zeros = new Float32Array(maxWidth)
    this.stateA = new Float32Array(9 * maxWidth)
    this.stateB = new Float32Array(9 * maxWidth)
  }

  /**
   * Horizontal pass of the three blurs one comparison needs from channel planes `a` and `b`: b, b² and a·b
   * (products rounded to float32, as the reference multiplies planes before blurring). The three planes run
   * in one loop: nine independent recurrences instead of three keep the CPU busy.
   */
  horizontal(a: Float32Array, b: Float32Array, width: number, height: number, cross = true) {
    const { h0, h1, h2, padA, padB } = this
    padA.fill(0)
    padB.fill(0)
    const P = 2 * N
    for (let y = 0; y < height; y++) {
      const row = y * width
      padA.set(a.subarray(row, row + width), P)
      padB.set(b.subarray(row, row + width), P)
      let p1 = 0,
        p3 = 0,
        p5 = 0,
        q1 = 0,
        q3 = 0,
        q5 = 0
      let u1 = 0,
        u3 = 0,
        u5 = 0,
        v1 = 0,
        v3 = 0,
        v5 = 0
      let w1 = 0,
        w3 = 0,
        w5 = 0,
        z1 = 0,
        z3 = 0,
        z5 = 0
      // j: index of the left tap in the padded row; the output pixel is j − N + 1.
      for (let j = 0, end = width + N - 1; j < end; j++) {
        const al = padA[j]!,
          ar = padA[j + P]!,
          bl = padB[j]!,
          br = padB[j + P]!
        const s0 = f(bl + br)
        const s1 = f(f(bl * bl) + f(br * br))
        const o1 = f(f(f(s0 * IN1) - q1) - D1 * p1)
        const o3 = f(f(f(s0 * IN3) - q3) - D3 * p3)
        const o5 = f(f(f(s0 * IN5) - q5) - D5 * p5)
        q1 = p1
        q3 = p3
        q5 = p5
        p1 = o1
        p3 = o3
        p5 = o5
        const x1 = f(f(f(s1 * IN1) - v1) - D1 * u1)
        const x3 = f(f(f(s1 * IN3) - v3) - D3 * u3)
        const x5 = f(f(f(s1 * IN5) - v5) - D5 * u5)
        v1 = u1
        v3 = u3
        v5 = u5
        u1 = x1
        u3 = x3
        u5 = x5
        const n = j - N + 1
        if (n >= 0) {
          h0[row + n] = f(o1 + o3) + o5
          h1[row + n] = f(x1 + x3) + x5
        }
        if (!cross) continue
        const s2 = f(f(al * bl) + f(ar * br))
        const y1 = f(f(f(s2 * IN1) - z1) - D1 * w1)
        const y3 = f(f(f(s2 * IN3) - z3) - D3 * w3)
        const y5 = f(f(f(s2 * IN5) - z5) - D5 * w5)
        z1 = w1
        z3 = w3
        z5 = w5
        w1 = y1
        w3 = y3
        w5 = y5
        if (n >= 0) h2[row + n] = f(y1 + y3) + y5
      }
    }
  }

  /**
   * Vertical pass over the horizontal results, row by row: `onRow(n)` gets the finished row n of the three
   * blurred planes in r0, r1, r2 (so a comparison never stores whole blurred planes). Without `cross`, the
   * third plane is skipped (in both passes).
   */
  vertical(width: number, height: number, onRow: (n: number) => void, cross = true) {
    const { h0, h1, h2, r0, r1, r2, zeros } = this
    let A = this.stateA,
      B = this.stateB
    A.fill(0, 0, 9 * width)
    B.fill(0, 0, 9 * width)
    for (let n = -N + 1; n < height; n++) {
      const top = n - N - 1,
        bottom = n + N - 1
      const t0 = top >= 0 ? h0 : zeros,
        t1 = top >= 0 ? h1 : zeros,
        t2 = top >= 0 ? h2 : zeros
      const b0 = bottom < height ? h0 : zeros,
        b1 = bottom < height ? h1 : zeros,
        b2 = bottom < height ? h2 : zeros
      const to = top >= 0 ? top * width : 0,
        bo = bottom < height ? bottom * width : 0
      // A holds row n−1 of each recurrence, B row n−2; the new value overwrites B, then they swap.
      for (let x = 0, s = 0; x < width; x++, s += 9) {
        const s0 = f(t0[to + x]! + b0[bo + x]!)
        const s1 = f(t1[to + x]! + b1[bo + x]!)
        const o1 = f(s0 * IN1 - f(A[s]! * D1 + B[s]!))
        const o3 = f(s0 * IN3 - f(A[s + 1]! * D3 + B[s + 1]!))
        const o5 = f(s0 * IN5 - f(A[s + 2]! * D5 + B[s + 2]!))
        const x1 = f(s1 * IN1 - f(A[s + 3]! * D1 + B[s + 3]!))
        const x3 = f(s1 * IN3 - f(A[s + 4]! * D3 + B[s + 4]!))
        const x5 = f(s1 * IN5 - f(A[s + 5]! * D5 + B[s + 5]!))
        B[s] = o1
        B[s + 1] = o3
        B[s + 2] = o5
        B[s + 3] = x1
        B[s + 4] = x3
        B[s + 5] = x5
        r0[x] = f(o1 + o3) + o5
        r1[x] = f(x1 + x3) + x5
        if (!cross) continue
        const s2 = f(t2[to + x]! + b2[bo + x]!)
        const y1 = f(s2 * IN1 - f(A[s + 6]! * D1 + B[s + 6]!))
        const y3 = f(s2 * IN3 - f(A[s + 7]! * D3 + B[s + 7]!))
        const y5 = f(s2 * IN5 - f(A[s + 8]! * D5 + B[s + 8]!))
        B[s + 6] = y1
        B[s + 7] = y3
        B[s + 8] = y5
        r2[x] = f(y1 + y3) + y5
      }
      const swap = A
      A = B
      B = swap
      if (n >= 0) onRow(n)
    }
  }
}

type Planes = [Float32Array, Float32Array, Float32Array]

/** 2×2 box average with edge replication, as the reference downscales (in linear RGB). */
function downscale(p: Float32Array, w: number, h: number): Float32Array {
  const ow = (w + 1) >> 1,
    oh = (h + 1) >> 1
  const out = new Float32Array(ow * oh)
  for (let oy = 0; oy < oh; oy++) {
    const y0 = 2 * oy * w,
      y1 = Math.min(2 * oy + 1, h - 1) * w
    for (let ox = 0; ox < ow; ox++) {
      const x0 = 2 * ox,
        x1 = Math.min(2 * ox + 1, w - 1)
      out[oy * ow + ox] = f(f(f(p[y0 + x0]! + p[y0 + x1]!) + p[y1 + x0]!) + p[y1 + x1]!) * 0.25
    }
  }
  return out
}

/**
 * The image halved `times` (≥ 1) times, as the metric's pyramid does, one channel at a time: the reference the
 * WebAssembly's strip-by-strip conversion and halving (WasmReference with `halvings`) must match.
 */
export function linearHalved(img: RgbImage, times: number): LinearImage {
  let width = img.width,
    height = img.height
  const planes = [0, 1, 2].map((c) => {
    let p = linearPlane(img, c)
    let w = img.width,
      h = img.height
    for (let k = 0; k < times; k++) {
      p = downscale(p, w, h)
      w = (w + 1) >> 1
      h = (h + 1) >> 1
    }
    width = w
    height = h
    return p
  }) as Planes
  return { planes, width, height }
}

// ---- the pipeline, as ../src/ssimulacra2.ts's prepareReference and sumsAgainst (see there) ---------------------------

/** A reference prepared by the TypeScript kernels: per scale, its XYB planes, their blur μ₁ and σ₁² + μ₁². */
export interface JsPreparedReference {
  width: number
  height: number
  scales: Array<{ width: number; height: number; xyb: Planes; mu: Planes; sq: Planes }>
  workspace: Workspace
}

export function prepareReferenceJs(first: LinearImage, scales: number): JsPreparedReference {
  let w = first.width,
    h = first.height
  let lin = first.planes
  const workspace = new Workspace(w * h, w)
  const prepared: JsPreparedReference = { width: w, height: h, scales: [], workspace }
  for (let scale = 0; scale < scales; scale++) {
    // Checked before halving, as the reference does: the last scale may be smaller than 8 pixels.
    if (w < 8 || h < 8) break
    if (scale > 0) {
      lin = lin.map((p) => downscale(p, w, h)) as Planes
      w = (w + 1) >> 1
      h = (h + 1) >> 1
    }
    const n = w * h
    const xyb = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as Planes
    toPositiveXyb(lin[0], lin[1], lin[2], xyb[0], xyb[1], xyb[2])
    const mu = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as Planes
    const sq = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as Planes
    for (let c = 0; c < 3; c++) {
      // The comparison's first two blurs of (a, a): a and a² (no cross term: it would be a² again).
      workspace.horizontal(xyb[c]!, xyb[c]!, w, h, false)
      const m = mu[c]!,
        q = sq[c]!,
        r0 = workspace.r0,
        r1 = workspace.r1
      workspace.vertical(
        w,
        h,
        (y) => {
          m.set(r0.subarray(0, w), y * w)
          q.set(r1.subarray(0, w), y * w)
        },
        false
      )
    }
    prepared.scales.push({ width: w, height: h, xyb, mu, sq })
  }
  return prepared
}

export function sumsAgainstJs(reference: JsPreparedReference, second: LinearImage, border = 0): PartialSums {
  if (second.width !== reference.width || second.height !== reference.height)
    throw new RangeError('SSIMULACRA2: images differ in size')
  const ws = reference.workspace
  const result: PartialSums = { sums: [], pixels: [] }
  let lin = second.planes
  let prevW = second.width,
    prevH = second.height
  const x2 = ws.xyb
  for (const [scale, ref] of reference.scales.entries()) {
    const w = ref.width,
      h = ref.height,
      n = w * h
    if (scale > 0) {
      lin = lin.map((p) => downscale(p, prevW, prevH)) as Planes
      prevW = w
      prevH = h
    }
    toPositiveXyb(lin[0], lin[1], lin[2], x2[0]!.subarray(0, n), x2[1]!.subarray(0, n), x2[2]!.subarray(0, n))
    const edge = Math.ceil(border / 2 ** scale)
    const sums = new Float64Array(18)
    const lanes = new Float64Array(24)
    for (let c = 0; c < 3; c++) {
      const a = ref.xyb[c]!,
        b = x2[c]!,
        mu1 = ref.mu[c]!,
        sq1 = ref.sq[c]!
      const mu2 = ws.r0,
        sq2 = ws.r1,
        s12 = ws.r2
      const k = c * 6
      ws.horizontal(a, b, w, h)
      ws.vertical(w, h, (y) => {
        if (y < edge || y >= h - edge) return
        const row = y * w
        // Four partial sums per quantity, pixel from + 4j + k in lane k (the WebAssembly's lanes), totalled as
        // (k0 + k2) + (k1 + k3): the order only moves the last bits of a double sum.
        lanes.fill(0)
        for (let x = edge; x < w - edge; x++) {
          const i = row + x
          const m1 = mu1[i]!,
            m2 = mu2[x]!
          const diff = f(m1 - m2)
          // SSIM without the luminance denominator (the values are already perceptually uniform)
          const numM = f(1 - diff * diff)
          const numS = f(2 * f(s12[x]! - f(m1 * m2)) + C2)
          const denS = f(f(f(sq1[i]! - f(m1 * m1)) + f(sq2[x]! - f(m2 * m2))) + C2)
          const d = Math.max(0, 1 - f(f(numM * numS) / denS))
          // > 0: edges in the distorted image where the reference is smooth (ringing, blocking, banding);
          // < 0: reference edges the distorted image lost (blurring, smearing; summed as e ≤ 0, negated below)
          const e = (1 + Math.abs(f(b[i]! - m2))) / (1 + Math.abs(f(a[i]! - m1))) - 1
          const e4 = e * e * e * e,
            l = (x - edge) & 3
          lanes[l]! += d
          lanes[4 + l]! += d * d * d * d
          if (e > 0) {
            lanes[8 + l]! += e
            lanes[12 + l]! += e4
          } else {
            lanes[16 + l]! += e
            lanes[20 + l]! += e4
          }
        }
        const total = (q: number) => lanes[4 * q]! + lanes[4 * q + 2]! + (lanes[4 * q + 1]! + lanes[4 * q + 3]!)
        sums[k]! += total(0)
        sums[k + 1]! += total(1)
        sums[k + 2]! += total(2)
        sums[k + 3]! += total(3)
        sums[k + 4]! -= total(4)
        sums[k + 5]! += total(5)
      })
    }
    result.sums.push(sums)
    result.pixels.push(Math.max(0, w - 2 * edge) * Math.max(0, h - 2 * edge))
  }
  return result
}
