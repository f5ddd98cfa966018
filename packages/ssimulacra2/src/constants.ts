/**
 * The constants of the SSIMULACRA2 port, derived here once: the WebAssembly kernels get them from wasm.ts at
 * init (so they have one source), and the TypeScript oracle (../test/ssimulacra2-js.ts) computes with them.
 */
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
/** A float32's bits and back (the oracle's cube root guesses from them too). */
export const floatBits = (v: number) => {
  bits.setFloat32(0, v)
  return bits.getInt32(0)
}
export const bitsFloat = (v: number) => {
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

/** The cube root's constants (its steps: the TypeScript oracle's `cbrt`, and the kernels' cbrt4). */
export const THIRD = f(1 / 3)
export const CBRT_MAGIC = 709_958_130

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
