/**
 * SSIMULACRA2's steps in TypeScript: the port's constants, its conversion to linear RGB (`toLinear`, and
 * `linearHalved`, the reference for the halving done in WebAssembly), and its kernels and pipeline
 * (`prepareReferenceJs`, `sumsAgainstJs`) as the readable reference of the metric. Production scores run
 * those kernels as WebAssembly (../../assembly/ssimulacra2.ts, driven by ssimulacra2-wasm.ts), which
 * ssimulacra2-wasm.test.ts holds bit-identical to these. The public API, and what the metric is, are in
 * ssimulacra2.ts.
 */
import type { LinearImage, PartialSums, RgbImage } from './ssimulacra2.ts'

export const C2 = Math.fround(0.0009)

// ---- colour: sRGB transfer (yuvxyb's constants) and the opsin absorbance of XYB -------------------------
/**
 * The reference computes in 32-bit floats, and the SSIM map subtracts nearly equal variances, so float32
 * rounding moves scores near 90 by up to a point: `f` (Math.fround) rounds where the reference rounds.
 */
const f = Math.fround
const SRGB_ALPHA = 1.0550107
const SRGB_BETA = 0.0030412825

/**
 * yuvxyb's default "fastmath" powf, which the reference uses for the sRGB curve: exp2(log2(x)·y) with its
 * degree-5 polynomials in float32. Flat images are sensitive to it, so it is reproduced bit for bit.
 */
function fastPow(x: number, y: number): number {
  return exp2(f(log2(x) * y))
}
const bits = new DataView(new ArrayBuffer(4))
const floatBits = (v: number) => {
  bits.setFloat32(0, v)
  return bits.getInt32(0)
}
const bitsFloat = (v: number) => {
  bits.setInt32(0, v)
  return bits.getFloat32(0)
}
const poly5 = (x: number, c: number[]) =>
  c.reduceRight((acc, ci, i) => (i === c.length - 1 ? f(ci) : f(x * acc + f(ci))), 0)
function log2(x: number): number {
  const xb = floatBits(x)
  const exp = ((xb & 0x7f800000) >> 23) - 127
  const mant = bitsFloat((xb & 0x007fffff) | floatBits(1))
  const p = poly5(mant, [3.11579, -3.324199, 2.5988452, -1.2315303, 3.1821337e-1, -3.4436006e-2])
  return f(f(p * f(mant - 1)) + exp)
}
function exp2(v: number): number {
  const x = f(Math.min(129, Math.max(-126.99999, v)))
  const ipart = Math.trunc(f(x - 0.5))
  const fpart = f(x - ipart)
  const expi = bitsFloat((ipart + 127) << 23)
  return f(expi * poly5(fpart, [9.9999994e-1, 6.931531e-1, 2.4015361e-1, 5.5826318e-2, 8.98934e-3, 1.8775767e-3]))
}

export const TO_LINEAR = new Float32Array(256)
for (let i = 0; i < 256; i++) {
  const x = f(i / 255)
  TO_LINEAR[i] =
    x < f(12.92 * SRGB_BETA) ? f(x / f(12.92)) : fastPow(f(f(x + f(SRGB_ALPHA - 1)) / f(SRGB_ALPHA)), f(2.4))
}

export const M00 = f(0.3),
  M02 = f(0.078),
  M01 = f(f(1 - M02) - M00)
export const M10 = f(0.23),
  M12 = f(0.078),
  M11 = f(f(1 - M12) - M10)
export const M20 = f(0.24342269),
  M21 = f(0.20476745),
  M22 = f(f(1 - M20) - M21)
export const BIAS = f(0.0037930734)
export const NEG_BIAS_CBRT = f(-Math.cbrt(BIAS))
export const X_OFFSET = f(0.42),
  Y_OFFSET = f(0.01),
  B_OFFSET = f(0.55)

/**
 * Cube root of the opsin mixes (float32, in [0, ~1.004]), as the WebAssembly computes four at a time: a guess
 * from the float's bits (within 3.3%) and a Halley step in float32 bring it within ~4e-5, then a Halley step in
 * double to ~1e-14, rounded: equal to Math.cbrt's float32 (no mismatch in 4M random inputs), as the table and
 * two double steps it replaced were, with half their double divisions and no table lookups.
 */
export const THIRD = f(1 / 3)
export const CBRT_MAGIC = 709_958_130
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

// ---- recursive Gaussian, sigma 1.5 (Charalampidis 2016), constants derived as the crate's build.rs does ---
const G = (() => {
  const sigma = 1.5
  const radius = Math.round(3.2795 * sigma + 0.2546)
  const piDiv2r = Math.PI / (2 * radius)
  const omega = [piDiv2r, 3 * piDiv2r, 5 * piDiv2r]
  const p1 = 1 / Math.tan(0.5 * omega[0]!),
    p3 = -1 / Math.tan(0.5 * omega[1]!),
    p5 = 1 / Math.tan(0.5 * omega[2]!)
  const r1 = (p1 * p1) / Math.sin(omega[0]!),
    r3 = (-p3 * p3) / Math.sin(omega[1]!),
    r5 = (p5 * p5) / Math.sin(omega[2]!)
  const rho = omega.map((w) => Math.exp(-0.5 * sigma * sigma * w * w) / radius)
  const d13 = p1 * r3 - r1 * p3,
    d35 = p3 * r5 - r3 * p5,
    d51 = p5 * r1 - r5 * p1
  const zeta15 = d35 / d13,
    zeta35 = d51 / d13
  const beta = solve3(
    [
      [p1, p3, p5],
      [r1, r3, r5],
      [zeta15, zeta35, 1]
    ],
    [1, radius * radius - sigma * sigma, zeta15 * rho[0]! + zeta35 * rho[1]! + rho[2]!]
  )
  const n2 = omega.map((w, i) => f(-beta[i]! * Math.cos(w * (radius + 1))))
  const d1 = omega.map((w) => f(-2 * Math.cos(w)))
  return { radius, n2, d1 }
})()

/** Cramer's rule for the 3×3 system of the filter weights (the crate inverts the matrix; same solution). */
function solve3(a: number[][], v: number[]): number[] {
  const det = (m: number[][]) =>
    m[0]![0]! * (m[1]![1]! * m[2]![2]! - m[1]![2]! * m[2]![1]!) -
    m[0]![1]! * (m[1]![0]! * m[2]![2]! - m[1]![2]! * m[2]![0]!) +
    m[0]![2]! * (m[1]![0]! * m[2]![1]! - m[1]![1]! * m[2]![0]!)
  const d = det(a)
  return [0, 1, 2].map((col) => det(a.map((row, r) => row.map((x, c) => (c === col ? v[r]! : x)))) / d)
}

export const N = G.radius
export const IN1 = G.n2[0]!,
  IN3 = G.n2[1]!,
  IN5 = G.n2[2]!
export const D1 = G.d1[0]!,
  D3 = G.d1[1]!,
  D5 = G.d1[2]!

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

function linearPlane(img: RgbImage, channel: number): Float32Array {
  const n = img.width * img.height
  const out = new Float32Array(n)
  const d = img.data
  for (let i = 0, j = channel; i < n; i++, j += 3) out[i] = TO_LINEAR[d[j]!]!
  return out
}

export function toLinear(img: RgbImage): LinearImage {
  return {
    planes: [linearPlane(img, 0), linearPlane(img, 1), linearPlane(img, 2)],
    width: img.width,
    height: img.height
  }
}

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

// ---- the pipeline, as ssimulacra2.ts's prepareReference and sumsAgainst (see there) ---------------------------

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
