/**
 * The hot loops of SSIMULACRA2 as WebAssembly with 128-bit SIMD, bit-identical to the TypeScript port
 * (test/ssimulacra2-js.ts, the readable reference; src/wasm.ts drives these).
 *
 * Exactness: where the port rounds to float32 (Math.fround of one operation) these use f32 operations; where
 * it computes in double and rounds the result (e.g. f(a·b + c): an exact product, a double sum, one rounding),
 * they compute in f64 and demote, never an f32 multiply then add. f32 lanes are promoted to f64 (exact) and
 * demoted (rounded) around those steps. The error maps are summed in four lanes per row, as the port sums them.
 *
 * Memory belongs to the caller: every plane is a pointer into the imported memory, allocated with at least
 * 16 bytes to spare after it (the 4-lane loops read up to 3 floats past a row's end; those lanes are dropped).
 */

// The port's constants, set by init() so they have one source: the TypeScript module derives them.
let RADIUS: i32 = 0
let IN1: f32 = 0, IN3: f32 = 0, IN5: f32 = 0
let D1: f32 = 0, D3: f32 = 0, D5: f32 = 0
let M00: f32 = 0, M01: f32 = 0, M02: f32 = 0, M10: f32 = 0, M11: f32 = 0, M12: f32 = 0, M20: f32 = 0, M21: f32 = 0, M22: f32 = 0
let BIAS: f32 = 0, NEG_BIAS_CBRT: f32 = 0, X_OFFSET: f32 = 0, Y_OFFSET: f32 = 0, B_OFFSET: f32 = 0, C2: f32 = 0
/** The cube root's first guess: bits(x) · THIRD + CBRT_MAGIC, as float bits. */
let THIRD: f32 = 0
let CBRT_MAGIC: i32 = 0
/** Float32Array of 256 values: 8-bit sRGB → linear. */
let TO_LINEAR: usize = 0

export function init(radius: i32, gauss: usize, opsin: usize, cbrtMagic: i32, toLinear: usize): void {
  TO_LINEAR = toLinear
  RADIUS = radius
  IN1 = load<f32>(gauss, 0); IN3 = load<f32>(gauss, 4); IN5 = load<f32>(gauss, 8)
  D1 = load<f32>(gauss, 12); D3 = load<f32>(gauss, 16); D5 = load<f32>(gauss, 20)
  M00 = load<f32>(opsin, 0); M01 = load<f32>(opsin, 4); M02 = load<f32>(opsin, 8)
  M10 = load<f32>(opsin, 12); M11 = load<f32>(opsin, 16); M12 = load<f32>(opsin, 20)
  M20 = load<f32>(opsin, 24); M21 = load<f32>(opsin, 28); M22 = load<f32>(opsin, 32)
  BIAS = load<f32>(opsin, 36); NEG_BIAS_CBRT = load<f32>(opsin, 40)
  X_OFFSET = load<f32>(opsin, 44); Y_OFFSET = load<f32>(opsin, 48); B_OFFSET = load<f32>(opsin, 52); C2 = load<f32>(opsin, 56)
  THIRD = load<f32>(opsin, 60)
  CBRT_MAGIC = cbrtMagic
}

// ---- lane helpers ------------------------------------------------------------------------------------------
/** f32 lanes 0, 1 → f64x2 (exact). */
@inline function low64(v: v128): v128 { return f64x2.promote_low_f32x4(v) }
/** f32 lanes 2, 3 → f64x2 (exact). */
@inline function high64(v: v128): v128 { return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)) }
/** f64x2 → f32 lanes 0, 1 (rounded; lanes 2, 3 zero). */
@inline function demote(v: v128): v128 { return f32x4.demote_f64x2_zero(v) }
/** Two demoted halves → one f32x4. */
@inline function join(lo: v128, hi: v128): v128 { return v128.shuffle<f32>(lo, hi, 0, 1, 4, 5) }
/** Rounds f64 lanes to float32 and back: Math.fround of a double result. */
@inline function fround(v: v128): v128 { return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(v)) }
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2) }

// ---- 8-bit sRGB → linear RGB ------------------------------------------------------------------------------
@inline function linear(p: usize): f32 { return load<f32>(TO_LINEAR + (<usize>load<u8>(p) << 2)) }

/** n interleaved 8-bit RGB pixels → three linear planes. */
export function linearPlanes(src: usize, n: i32, r: usize, g: usize, b: usize): void {
  for (let i = 0; i < n; i++) {
    const p = src + <usize>i * 3
    store<f32>(at(r, i), linear(p)); store<f32>(at(g, i), linear(p + 1)); store<f32>(at(b, i), linear(p + 2))
  }
}

/** linearPlanes then downscale in one pass over the bytes: the same f32 sums in the same order. */
export function halvedLinearPlanes(src: usize, w: i32, h: i32, r: usize, g: usize, b: usize): void {
  const ow = (w + 1) >> 1, oh = (h + 1) >> 1, pairs = w >> 1, rowBytes = <usize>w * 3
  for (let oy = 0; oy < oh; oy++) {
    const y0 = src + <usize>(2 * oy) * rowBytes, y1 = 2 * oy + 1 < h ? y0 + rowBytes : y0
    const i = <usize>(oy * ow) << 2
    let ro = r + i, go = g + i, bo = b + i
    // Two pixels of a row in one 8-byte load (the strip has bytes to spare after its end): the bytes'
    // table lookups are the work, not their loads.
    for (let ox = 0; ox < pairs; ox++) {
      const top = load<u64>(y0 + <usize>ox * 6), bottom = load<u64>(y1 + <usize>ox * 6)
      store<f32>(ro, (((byteLinear(top, 0) + byteLinear(top, 3)) + byteLinear(bottom, 0)) + byteLinear(bottom, 3)) * <f32>0.25)
      store<f32>(go, (((byteLinear(top, 1) + byteLinear(top, 4)) + byteLinear(bottom, 1)) + byteLinear(bottom, 4)) * <f32>0.25)
      store<f32>(bo, (((byteLinear(top, 2) + byteLinear(top, 5)) + byteLinear(bottom, 2)) + byteLinear(bottom, 5)) * <f32>0.25)
      ro += 4; go += 4; bo += 4
    }
    if (w & 1) {
      // The last column of an odd width is its own right neighbour.
      const x = <usize>(w - 1) * 3
      for (let c: usize = 0; c < 3; c++) {
        const p0 = linear(y0 + x + c), p1 = linear(y1 + x + c)
        store<f32>(c == 0 ? ro : c == 1 ? go : bo, (((p0 + p0) + p1) + p1) * <f32>0.25)
      }
    }
  }
}

@inline function byteLinear(bytes: u64, k: i32): f32 {
  return load<f32>(TO_LINEAR + (<usize>((bytes >> (<u64>k << 3)) & 0xff) << 2))
}

// ---- downscale ---------------------------------------------------------------------------------------------
/** 2×2 box average with edge replication: ((p00 + p01) + p10) + p11, times 0.25, in f32. */
export function downscale(src: usize, w: i32, h: i32, dst: usize): void {
  const ow = (w + 1) >> 1, oh = (h + 1) >> 1
  const quarter = f32x4.splat(0.25)
  for (let oy = 0; oy < oh; oy++) {
    const r0 = at(src, 2 * oy * w), r1 = at(src, min(2 * oy + 1, h - 1) * w), out = at(dst, oy * ow)
    let ox = 0
    // Four outputs from eight inputs of each row, while all eight are in the row.
    for (; 2 * ox + 8 <= w; ox += 4) {
      const a0 = v128.load(at(r0, 2 * ox)), a1 = v128.load(at(r0, 2 * ox + 4))
      const b0 = v128.load(at(r1, 2 * ox)), b1 = v128.load(at(r1, 2 * ox + 4))
      const p00 = v128.shuffle<f32>(a0, a1, 0, 2, 4, 6), p01 = v128.shuffle<f32>(a0, a1, 1, 3, 5, 7)
      const p10 = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6), p11 = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7)
      v128.store(at(out, ox), f32x4.mul(f32x4.add(f32x4.add(f32x4.add(p00, p01), p10), p11), quarter))
    }
    for (; ox < ow; ox++) {
      const x0 = 2 * ox, x1 = min(2 * ox + 1, w - 1)
      const sum: f32 = load<f32>(at(r0, x0)) + load<f32>(at(r0, x1)) + load<f32>(at(r1, x0)) + load<f32>(at(r1, x1))
      store<f32>(at(out, ox), sum * <f32>0.25)
    }
  }
}

// ---- linear RGB → positive XYB -----------------------------------------------------------------------------
/**
 * The port's cube root of four float32 mixes, given as two f64x2 pairs (lo, hi): a guess from the float bits
 * and a Halley step in float32 (4 lanes), then a Halley step in double (2 × 2 lanes), rounded. 0 where x ≤ 0.
 */
@inline function cbrt4(lo: v128, hi: v128): v128 {
  const x = join(demote(lo), demote(hi))
  let y = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.mul(f32x4.convert_i32x4_s(x), f32x4.splat(THIRD))), i32x4.splat(CBRT_MAGIC))
  const y3 = f32x4.mul(f32x4.mul(y, y), y)
  y = f32x4.sub(y, f32x4.div(f32x4.mul(y, f32x4.sub(y3, x)), f32x4.add(f32x4.add(y3, y3), x)))
  return v128.and(join(demote(halley(low64(y), lo)), demote(halley(high64(y), hi))), f32x4.gt(x, f32x4.splat(0)))
}

/** One Halley step for cbrt(x) from y, in double: y(y³ + 2x) / (2y³ + x). */
@inline function halley(y: v128, x: v128): v128 {
  const y3 = f64x2.mul(f64x2.mul(y, y), y)
  return f64x2.div(f64x2.mul(y, f64x2.add(y3, f64x2.add(x, x))), f64x2.add(f64x2.add(y3, y3), x))
}

/** f(m0·R + f(m1·G + f(m2·B + BIAS))): each multiply-add in double, rounded once. */
@inline function mix(R: v128, G: v128, B: v128, m0: f32, m1: f32, m2: f32): v128 {
  const inner = fround(f64x2.add(f64x2.mul(f64x2.splat(m2), B), f64x2.splat(BIAS)))
  const middle = fround(f64x2.add(f64x2.mul(f64x2.splat(m1), G), inner))
  return fround(f64x2.add(f64x2.mul(f64x2.splat(m0), R), middle))
}

/** One opsin channel of four pixels (R, G, B as f64x2 pairs): its mix, cube root, minus cbrt(BIAS). */
@inline function opsin(Rlo: v128, Glo: v128, Blo: v128, Rhi: v128, Ghi: v128, Bhi: v128, m0: f32, m1: f32, m2: f32): v128 {
  const lo = mix(Rlo, Glo, Blo, m0, m1, m2), hi = mix(Rhi, Ghi, Bhi, m0, m1, m2)
  return f32x4.add(cbrt4(lo, hi), f32x4.splat(NEG_BIAS_CBRT))
}

/** Stores the first `count` (1–4) lanes of v at p. */
@inline function storeLanes(p: usize, v: v128, count: i32): void {
  if (count >= 4) { v128.store(p, v); return }
  v128.store32_lane(p, v, 0)
  if (count > 1) v128.store32_lane(p, v, 1, 4)
  if (count > 2) v128.store32_lane(p, v, 2, 8)
}

/**
 * Linear RGB planes → positive XYB planes, four pixels per step (a last partial step stores only its pixels).
 * Without `blue` the B plane is not written and its cube root (a third of the work) not taken: the finest
 * scales weigh no B.
 */
export function toXyb(r: usize, g: usize, b: usize, n: i32, x: usize, y: usize, bb: usize, blue: bool): void {
  const half = f32x4.splat(0.5), fourteen = f64x2.splat(14), xOffset = f64x2.splat(<f64>X_OFFSET)
  const yOffset = f32x4.splat(Y_OFFSET), bOffset = f32x4.splat(B_OFFSET)
  for (let i = 0; i < n; i += 4) {
    const R = v128.load(at(r, i)), G = v128.load(at(g, i)), B = v128.load(at(b, i))
    const Rlo = low64(R), Glo = low64(G), Blo = low64(B), Rhi = high64(R), Ghi = high64(G), Bhi = high64(B)
    const l = opsin(Rlo, Glo, Blo, Rhi, Ghi, Bhi, M00, M01, M02)
    const m = opsin(Rlo, Glo, Blo, Rhi, Ghi, Bhi, M10, M11, M12)
    const X = f32x4.mul(half, f32x4.sub(l, m))
    const Y = f32x4.mul(half, f32x4.add(l, m))
    const outX = join(demote(f64x2.add(f64x2.mul(low64(X), fourteen), xOffset)), demote(f64x2.add(f64x2.mul(high64(X), fourteen), xOffset)))
    const count = n - i
    storeLanes(at(x, i), outX, count)
    storeLanes(at(y, i), f32x4.add(Y, yOffset), count)
    if (!blue) continue
    const s = opsin(Rlo, Glo, Blo, Rhi, Ghi, Bhi, M20, M21, M22)
    storeLanes(at(bb, i), f32x4.add(f32x4.sub(s, Y), bOffset), count)
  }
}

// ---- horizontal pass of the recursive Gaussian -------------------------------------------------------------
// Four rows at a time, one per f32 lane: each row's recurrences are sequential along it, so the rows are the
// parallel dimension. Rows are interleaved (transposed in 4×4 blocks) into scratch, blurred, and put back.

/** Rows y0..y0+3 of `src` (w wide; rows past h repeat the last) → dst[x] = [row0[x], row1[x], row2[x], row3[x]]. */
function interleave(src: usize, w: i32, h: i32, y0: i32, dst: usize): void {
  const p0 = at(src, y0 * w), p1 = at(src, min(y0 + 1, h - 1) * w), p2 = at(src, min(y0 + 2, h - 1) * w), p3 = at(src, min(y0 + 3, h - 1) * w)
  let x = 0
  for (; x + 4 <= w; x += 4) {
    const r0 = v128.load(at(p0, x)), r1 = v128.load(at(p1, x)), r2 = v128.load(at(p2, x)), r3 = v128.load(at(p3, x))
    const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5)
    const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7)
    const d = dst + (<usize>x << 4)
    v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5))
    v128.store(d, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), 16)
    v128.store(d, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), 32)
    v128.store(d, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), 48)
  }
  for (; x < w; x++) {
    const d = dst + (<usize>x << 4)
    store<f32>(d, load<f32>(at(p0, x))); store<f32>(d, load<f32>(at(p1, x)), 4)
    store<f32>(d, load<f32>(at(p2, x)), 8); store<f32>(d, load<f32>(at(p3, x)), 12)
  }
}

/** The inverse of interleave for the rows below h. */
function deinterleave(src: usize, w: i32, h: i32, y0: i32, dst: usize): void {
  const rows = min(4, h - y0)
  const p0 = at(dst, y0 * w), p1 = at(dst, (y0 + 1) * w), p2 = at(dst, (y0 + 2) * w), p3 = at(dst, (y0 + 3) * w)
  let x = 0
  if (rows == 4) {
    for (; x + 4 <= w; x += 4) {
      const s = src + (<usize>x << 4)
      const c0 = v128.load(s), c1 = v128.load(s, 16), c2 = v128.load(s, 32), c3 = v128.load(s, 48)
      const t0 = v128.shuffle<f32>(c0, c1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(c2, c3, 0, 4, 1, 5)
      const t2 = v128.shuffle<f32>(c0, c1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(c2, c3, 2, 6, 3, 7)
      v128.store(at(p0, x), v128.shuffle<f32>(t0, t1, 0, 1, 4, 5))
      v128.store(at(p1, x), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7))
      v128.store(at(p2, x), v128.shuffle<f32>(t2, t3, 0, 1, 4, 5))
      v128.store(at(p3, x), v128.shuffle<f32>(t2, t3, 2, 3, 6, 7))
    }
  }
  for (; x < w; x++) {
    const s = src + (<usize>x << 4)
    store<f32>(at(p0, x), load<f32>(s))
    if (rows > 1) store<f32>(at(p1, x), load<f32>(s, 4))
    if (rows > 2) store<f32>(at(p2, x), load<f32>(s, 8))
    if (rows > 3) store<f32>(at(p3, x), load<f32>(s, 12))
  }
}

/**
 * The three recurrences of one blur over `steps` interleaved sums s (in place: s[j] becomes the output of
 * the step, f(o1 + o3) + o5). o = f(f(f(s·IN) − q) − D·p): the last step in double (p, q: the outputs one
 * and two steps back).
 */
function recur3(s: usize, steps: i32): void {
  const in1 = f32x4.splat(IN1), in3 = f32x4.splat(IN3), in5 = f32x4.splat(IN5)
  const d1 = f64x2.splat(<f64>D1), d3 = f64x2.splat(<f64>D3), d5 = f64x2.splat(<f64>D5)
  const zero = f32x4.splat(0)
  let p1 = zero, q1 = zero, p1lo = zero, p1hi = zero
  let p3 = zero, q3 = zero, p3lo = zero, p3hi = zero
  let p5 = zero, q5 = zero, p5lo = zero, p5hi = zero
  for (let j = 0; j < steps; j++) {
    const cell = s + (<usize>j << 4)
    const sum = v128.load(cell)
    const x1 = f32x4.sub(f32x4.mul(sum, in1), q1)
    const x3 = f32x4.sub(f32x4.mul(sum, in3), q3)
    const x5 = f32x4.sub(f32x4.mul(sum, in5), q5)
    const o1lo = demote(f64x2.sub(low64(x1), f64x2.mul(d1, p1lo))), o1hi = demote(f64x2.sub(high64(x1), f64x2.mul(d1, p1hi)))
    const o3lo = demote(f64x2.sub(low64(x3), f64x2.mul(d3, p3lo))), o3hi = demote(f64x2.sub(high64(x3), f64x2.mul(d3, p3hi)))
    const o5lo = demote(f64x2.sub(low64(x5), f64x2.mul(d5, p5lo))), o5hi = demote(f64x2.sub(high64(x5), f64x2.mul(d5, p5hi)))
    q1 = p1; p1 = join(o1lo, o1hi); p1lo = low64(o1lo); p1hi = low64(o1hi)
    q3 = p3; p3 = join(o3lo, o3hi); p3lo = low64(o3lo); p3hi = low64(o3hi)
    q5 = p5; p5 = join(o5lo, o5hi); p5lo = low64(o5lo); p5hi = low64(o5hi)
    v128.store(cell, f32x4.add(f32x4.add(p1, p3), p5))
  }
}

// Scratch: two padded interleaved inputs, three interleaved sums; sized by horizontalScratchBytes in
// src/wasm.ts (the caller lays memory out before it has an instance).

/**
 * Horizontal pass of the blurs of b, b² and (with `cross`) a·b into h0, h1, h2, with the port's zero padding
 * (2N zeros before a row, N after).
 */
export function horizontal(a: usize, b: usize, w: i32, h: i32, cross: bool, h0: usize, h1: usize, h2: usize, scratch: usize): void {
  const N = RADIUS, P = 2 * N, padded = w + 3 * N + 1, steps = w + N - 1
  const ia = scratch, ib = ia + (<usize>padded << 4)
  const s0 = ib + (<usize>padded << 4), s1 = s0 + (<usize>(w + N) << 4), s2 = s1 + (<usize>(w + N) << 4)
  memory.fill(ia, 0, <usize>padded << 5) // the padding; rows go in between
  for (let y0 = 0; y0 < h; y0 += 4) {
    interleave(b, w, h, y0, ib + (<usize>P << 4))
    if (cross) interleave(a, w, h, y0, ia + (<usize>P << 4))
    // j: the left tap in the padded row; the right one is j + 2N. The output of step j is pixel j − N + 1.
    for (let j = 0; j < steps; j++) {
      const o = <usize>j << 4, r = <usize>(j + P) << 4
      const bl = v128.load(ib + o), br = v128.load(ib + r)
      v128.store(s0 + o, f32x4.add(bl, br))
      v128.store(s1 + o, f32x4.add(f32x4.mul(bl, bl), f32x4.mul(br, br)))
      if (cross) {
        const al = v128.load(ia + o), ar = v128.load(ia + r)
        v128.store(s2 + o, f32x4.add(f32x4.mul(al, bl), f32x4.mul(ar, br)))
      }
    }
    const first = <usize>(N - 1) << 4
    recur3(s0, steps)
    deinterleave(s0 + first, w, h, y0, h0)
    recur3(s1, steps)
    deinterleave(s1 + first, w, h, y0, h1)
    if (cross) {
      recur3(s2, steps)
      deinterleave(s2 + first, w, h, y0, h2)
    }
  }
}

// ---- vertical pass, four columns at a time -----------------------------------------------------------------
// State of the recurrences: 9 per column, the outputs of rows n−1 and n−2, as float32 (half the bytes of
// doubles to stream through each row; promoting a pair as it is loaded is exact).

// Scratch: the state (2 × 9 rows of f32), three output rows and a row of zeros; sized by verticalScratchBytes
// in src/wasm.ts.

/**
 * One recurrence on four columns: o = f(s·IN − f(A·D + B)) (both steps in double), A and B the outputs of
 * rows n−1 and n−2; o overwrites B. Returns o as f32x4.
 */
@inline function vstep(sLo: v128, sHi: v128, inK: v128, dK: v128, a: usize, b: usize): v128 {
  const innerLo = fround(f64x2.add(f64x2.mul(low64(v128.load64_zero(a)), dK), low64(v128.load64_zero(b))))
  const innerHi = fround(f64x2.add(f64x2.mul(low64(v128.load64_zero(a, 8)), dK), low64(v128.load64_zero(b, 8))))
  const o = join(demote(f64x2.sub(f64x2.mul(sLo, inK), innerLo)), demote(f64x2.sub(f64x2.mul(sHi, inK), innerHi)))
  v128.store(b, o)
  return o
}

/** Row n of the vertical pass of h0, h1 (and h2 with `cross`) into r0, r1, r2; swaps nothing (the caller does). */
@inline function verticalRow(n: i32, w: i32, h: i32, cross: bool, h0: usize, h1: usize, h2: usize, zeros: usize, A: usize, B: usize, r0: usize, r1: usize, r2: usize, wp: i32): void {
  const N = RADIUS
  const top = n - N - 1, bottom = n + N - 1
  const to = top >= 0 ? <usize>(top * w) << 2 : 0, bo = bottom < h ? <usize>(bottom * w) << 2 : 0
  const t0 = top >= 0 ? h0 + to : zeros, t1 = top >= 0 ? h1 + to : zeros, t2 = top >= 0 ? h2 + to : zeros
  const b0 = bottom < h ? h0 + bo : zeros, b1 = bottom < h ? h1 + bo : zeros, b2 = bottom < h ? h2 + bo : zeros
  const in1 = f64x2.splat(<f64>IN1), in3 = f64x2.splat(<f64>IN3), in5 = f64x2.splat(<f64>IN5)
  const d1 = f64x2.splat(<f64>D1), d3 = f64x2.splat(<f64>D3), d5 = f64x2.splat(<f64>D5)
  const plane = <usize>wp << 2 // bytes of one state row
  for (let x = 0; x < w; x += 4) {
    const xo = <usize>x << 2
    const a = A + xo, b = B + xo
    const s0 = f32x4.add(v128.load(t0 + xo), v128.load(b0 + xo)), s0lo = low64(s0), s0hi = high64(s0)
    const o1 = vstep(s0lo, s0hi, in1, d1, a, b)
    const o3 = vstep(s0lo, s0hi, in3, d3, a + plane, b + plane)
    const o5 = vstep(s0lo, s0hi, in5, d5, a + 2 * plane, b + 2 * plane)
    v128.store(r0 + xo, f32x4.add(f32x4.add(o1, o3), o5))
    const s1 = f32x4.add(v128.load(t1 + xo), v128.load(b1 + xo)), s1lo = low64(s1), s1hi = high64(s1)
    const x1 = vstep(s1lo, s1hi, in1, d1, a + 3 * plane, b + 3 * plane)
    const x3 = vstep(s1lo, s1hi, in3, d3, a + 4 * plane, b + 4 * plane)
    const x5 = vstep(s1lo, s1hi, in5, d5, a + 5 * plane, b + 5 * plane)
    v128.store(r1 + xo, f32x4.add(f32x4.add(x1, x3), x5))
    if (cross) {
      const s2 = f32x4.add(v128.load(t2 + xo), v128.load(b2 + xo)), s2lo = low64(s2), s2hi = high64(s2)
      const y1 = vstep(s2lo, s2hi, in1, d1, a + 6 * plane, b + 6 * plane)
      const y3 = vstep(s2lo, s2hi, in3, d3, a + 7 * plane, b + 7 * plane)
      const y5 = vstep(s2lo, s2hi, in5, d5, a + 8 * plane, b + 8 * plane)
      v128.store(r2 + xo, f32x4.add(f32x4.add(y1, y3), y5))
    }
  }
}

/**
 * The vertical pass in the scratch's layout (two state planes swapped each row, three output rows, a row of
 * zeros for rows past the edges). Each finished row goes, without `cross`, to the planes mu and sq; with it, to
 * the SSIM and edge maps (`ssimRow`). Inlined into its two callers, where `cross` is a constant.
 */
@inline function verticalPass(w: i32, h: i32, cross: bool, h0: usize, h1: usize, h2: usize, scratch: usize, mu: usize, sq: usize, a: usize, b: usize, edge: i32, sums: usize): void {
  const wp = (w + 3) & ~3
  let A = scratch, B = scratch + (<usize>(9 * wp) << 2)
  const r0 = B + (<usize>(9 * wp) << 2), r1 = r0 + (<usize>wp << 2) + 16, r2 = r1 + (<usize>wp << 2) + 16, zeros = r2 + (<usize>wp << 2) + 16
  memory.fill(A, 0, <usize>(18 * wp) << 2)
  memory.fill(zeros, 0, (<usize>wp << 2) + 16)
  for (let n = -RADIUS + 1; n < h; n++) {
    verticalRow(n, w, h, cross, h0, h1, h2, zeros, A, B, r0, r1, r2, wp)
    const swap = A; A = B; B = swap
    if (cross) {
      if (n >= edge && n < h - edge) ssimRow(n * w, edge, w - edge, r0, r1, r2, a, b, mu, sq, sums)
    } else if (n >= 0) {
      memory.copy(at(mu, n * w), r0, <usize>w << 2)
      memory.copy(at(sq, n * w), r1, <usize>w << 2)
    }
  }
}

/** Vertical pass of a reference's own blurs (b, b²) into the planes mu and sq. */
export function verticalStore(w: i32, h: i32, h0: usize, h1: usize, mu: usize, sq: usize, scratch: usize): void {
  verticalPass(w, h, false, h0, h1, 0, scratch, mu, sq, 0, 0, 0, 0)
}

/**
 * Vertical pass of a comparison's blurs (μ₂, σ₂² + μ₂², σ₁₂ + μ₁μ₂) and, row by row, the SSIM and edge maps
 * against the reference (a, mu1, sq1) and the compared plane b, summed into sums[0..5] (f64: ssim, ssim⁴,
 * ringing, ringing⁴, blurring, blurring⁴) over the rows and columns `edge` pixels in from the border.
 */
export function verticalSsim(w: i32, h: i32, h0: usize, h1: usize, h2: usize, a: usize, b: usize, mu1: usize, sq1: usize, edge: i32, sums: usize, scratch: usize): void {
  verticalPass(w, h, true, h0, h1, h2, scratch, mu1, sq1, a, b, edge, sums)
}

/**
 * Adds one row's sums to sums, as the port does: each of four lanes sums the pixels at from + 4j + k (a last
 * partial group adds +0 in its missing lanes, which changes nothing), then the row total is
 * (k0 + k2) + (k1 + k3). Summing in lanes keeps the adds independent; a single sum in pixel order made every
 * add wait for the previous one.
 */
function ssimRow(row: i32, from: i32, to: i32, mu2: usize, sq2: usize, s12: usize, a: usize, b: usize, mu1: usize, sq1: usize, sums: usize): void {
  const two = f32x4.splat(2), c2 = f32x4.splat(C2)
  const one = f64x2.splat(1), zero = f64x2.splat(0)
  let ssimLo = zero, ssimHi = zero, ssim4Lo = zero, ssim4Hi = zero, ringLo = zero, ringHi = zero
  let ring4Lo = zero, ring4Hi = zero, blurLo = zero, blurHi = zero, blur4Lo = zero, blur4Hi = zero
  for (let x = from; x < to; x += 4) {
    const i = row + x
    const m1 = v128.load(at(mu1, i)), m2 = v128.load(at(mu2, x))
    const diff = f32x4.sub(m1, m2)
    // numM = f(1 − diff²): double
    const numM = join(demote(f64x2.sub(one, f64x2.mul(low64(diff), low64(diff)))), demote(f64x2.sub(one, f64x2.mul(high64(diff), high64(diff)))))
    const numS = f32x4.add(f32x4.mul(two, f32x4.sub(v128.load(at(s12, x)), f32x4.mul(m1, m2))), c2)
    const denS = f32x4.add(f32x4.add(f32x4.sub(v128.load(at(sq1, i)), f32x4.mul(m1, m1)), f32x4.sub(v128.load(at(sq2, x)), f32x4.mul(m2, m2))), c2)
    const q = f32x4.div(f32x4.mul(numM, numS), denS)
    let dLo = f64x2.max(zero, f64x2.sub(one, low64(q))), dHi = f64x2.max(zero, f64x2.sub(one, high64(q)))
    const num = f32x4.abs(f32x4.sub(v128.load(at(b, i)), m2)), den = f32x4.abs(f32x4.sub(v128.load(at(a, i)), m1))
    let eLo = f64x2.sub(f64x2.div(f64x2.add(one, low64(num)), f64x2.add(one, low64(den))), one)
    let eHi = f64x2.sub(f64x2.div(f64x2.add(one, high64(num)), f64x2.add(one, high64(den))), one)
    if (x + 4 > to) {
      // The lanes past the row's end (read from what follows it) count +0.
      const end = i64x2.splat(to)
      const inLo = i64x2.lt_s(i64x2.replace_lane(i64x2.splat(x), 1, x + 1), end), inHi = i64x2.lt_s(i64x2.replace_lane(i64x2.splat(x + 2), 1, x + 3), end)
      dLo = v128.and(dLo, inLo); dHi = v128.and(dHi, inHi); eLo = v128.and(eLo, inLo); eHi = v128.and(eHi, inHi)
    }
    const d4Lo = f64x2.mul(f64x2.mul(f64x2.mul(dLo, dLo), dLo), dLo), d4Hi = f64x2.mul(f64x2.mul(f64x2.mul(dHi, dHi), dHi), dHi)
    const e4Lo = f64x2.mul(f64x2.mul(f64x2.mul(eLo, eLo), eLo), eLo), e4Hi = f64x2.mul(f64x2.mul(f64x2.mul(eHi, eHi), eHi), eHi)
    // e > 0 goes to ringing, else to blurring (summed as e ≤ 0, negated with the row); the other gets +0.
    const posLo = f64x2.gt(eLo, zero), posHi = f64x2.gt(eHi, zero)
    ssimLo = f64x2.add(ssimLo, dLo); ssimHi = f64x2.add(ssimHi, dHi)
    ssim4Lo = f64x2.add(ssim4Lo, d4Lo); ssim4Hi = f64x2.add(ssim4Hi, d4Hi)
    ringLo = f64x2.add(ringLo, v128.and(eLo, posLo)); ringHi = f64x2.add(ringHi, v128.and(eHi, posHi))
    ring4Lo = f64x2.add(ring4Lo, v128.and(e4Lo, posLo)); ring4Hi = f64x2.add(ring4Hi, v128.and(e4Hi, posHi))
    blurLo = f64x2.add(blurLo, v128.andnot(eLo, posLo)); blurHi = f64x2.add(blurHi, v128.andnot(eHi, posHi))
    blur4Lo = f64x2.add(blur4Lo, v128.andnot(e4Lo, posLo)); blur4Hi = f64x2.add(blur4Hi, v128.andnot(e4Hi, posHi))
  }
  store<f64>(sums, load<f64>(sums) + rowTotal(ssimLo, ssimHi))
  store<f64>(sums, load<f64>(sums, 8) + rowTotal(ssim4Lo, ssim4Hi), 8)
  store<f64>(sums, load<f64>(sums, 16) + rowTotal(ringLo, ringHi), 16)
  store<f64>(sums, load<f64>(sums, 24) + rowTotal(ring4Lo, ring4Hi), 24)
  store<f64>(sums, load<f64>(sums, 32) - rowTotal(blurLo, blurHi), 32)
  store<f64>(sums, load<f64>(sums, 40) + rowTotal(blur4Lo, blur4Hi), 40)
}

/** (k0 + k2) + (k1 + k3) of lanes k0, k1 (lo) and k2, k3 (hi). */
@inline function rowTotal(lo: v128, hi: v128): f64 {
  const pair = f64x2.add(lo, hi)
  return f64x2.extract_lane(pair, 0) + f64x2.extract_lane(pair, 1)
}
