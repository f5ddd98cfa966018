/**
 * SSIMULACRA2 in TypeScript, ported from the reference Rust crate (rust-av/ssimulacra2 0.5, itself a port of
 * libjxl's tools/ssimulacra2.cc): 8-bit sRGB → linear RGB → XYB, six scales (halved in linear RGB), per scale
 * and channel the SSIM error map and the two edge-difference maps (ringing, blurring) under the 1- and 4-norm,
 * then the published weights and the final non-linear transform. No Node package implements it.
 *
 * The maps are summed per scale, so a score can be assembled from parts (`pyramidSums`, `addSums`,
 * `scoreFromSums`): `sampledScorer` (sampled.ts) scores a large image's fine scales on a sample of crops and
 * its coarse scales on the whole image. The reference's side of a comparison (its XYB planes and their blurs)
 * is computed once (`prepareReference`, `scorerFor`) and shared by every trial scored against it.
 *
 * Where it runs: as WebAssembly SIMD kernels (wasm.ts, ../assembly/ssimulacra2.ts), bit-identical to the port's
 * steps in TypeScript (../test/ssimulacra2-js.ts, the readable reference and test oracle) and ~4× faster
 * (a trial over every channel: 0.07–0.09 against 0.31–0.33 µs per pixel of CPU, bench/metric.ts).
 *
 * Memory: a prepared reference holds 9 float32 planes per scale plus about 10 working planes in its own
 * WebAssembly memory (~87 bytes per pixel: 90 MB for 1 MP), freed with it.
 */
import type { LinearImage, PartialSums, RgbImage, ScaleChannels } from './types.ts'
import { WasmReference } from './wasm.ts'

const NUM_SCALES = 6

// The published weights: for channel X, Y, B; for each scale; for the 1-norm then the 4-norm: SSIM, ringing, blurring.
// prettier-ignore
const WEIGHT = [
  0.0, 0.0007376606707406586, 0.0, 0.0, 0.0007793481682867309, 0.0, 0.0, 0.0004371155730107379, 0.0, 1.1041726426657346,
  0.00066284834129271, 0.00015231632783718752, 0.0, 0.0016406437456599754, 0.0, 1.8422455520539298, 11.441172603757666,
  0.0, 0.0007989109436015163, 0.000176816438078653, 0.0, 1.8787594979546387, 10.94906990605142, 0.0,
  0.0007289346991508072, 0.9677937080626833, 0.0, 0.00014003424285435884, 0.9981766977854967, 0.00031949755934435053,
  0.0004550992113792063, 0.0, 0.0, 0.0013648766163243398, 0.0, 0.0, 0.0, 0.0, 0.0, 7.466890328078848, 0.0,
  17.445833984131262, 0.0006235601634041466, 0.0, 0.0, 6.683678146179332, 0.00037724407979611296, 1.027889937768264,
  225.20515300849274, 0.0, 0.0, 19.213238186143016, 0.0011401524586618361, 0.001237755635509985, 176.39317598450694,
  0.0, 0.0, 24.43300999870476, 0.28520802612117757, 0.0004485436923833408, 0.0, 0.0, 0.0, 34.77906344483772,
  44.835625328877896, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0008680556573291698, 0.0, 0.0, 0.0, 0.0, 0.0,
  0.0005313191874358747, 0.0, 0.00016533814161379112, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0004179171803251336,
  0.0017290828234722833, 0.0, 0.0020827005846636437, 0.0, 0.0, 8.826982764996862, 23.19243343998926, 0.0,
  95.1080498811086, 0.9863978034400682, 0.9834382792465353, 0.0012286405048278493, 171.2667255897307,
  0.9807858872435379, 0.0, 0.0, 0.0, 0.0005130064588990679, 0.0, 0.00010854057858411537
]

/** The per-scale sums of SSIMULACRA2 for two images of the same size (at least 8×8). */
export function partialSums(reference: RgbImage, distorted: RgbImage): PartialSums {
  if (reference.width !== distorted.width || reference.height !== distorted.height)
    throw new RangeError('SSIMULACRA2: images differ in size')
  if (reference.width < 8 || reference.height < 8) throw new RangeError('SSIMULACRA2: images must be at least 8×8')
  return once(prepareReference(reference, NUM_SCALES), (prepared) => sumsAgainst(prepared, distorted))
}

/** Uses a prepared reference for one comparison, then releases it. */
function once<T>(prepared: PreparedReference, use: (prepared: PreparedReference) => T): T {
  try {
    return use(prepared)
  } finally {
    prepared.release()
  }
}

/**
 * What a comparison needs of the reference image at each scale, computed once and reused by every trial:
 * its XYB planes, their blur (μ₁) and the blur of their squares (σ₁² + μ₁²). This is 2 of the 5 blurs and
 * one of the 2 colour conversions of each comparison.
 */
export type PreparedReference = WasmReference

/** Every channel at every scale: the metric exactly as the reference computes it. */
export const EVERY_CHANNEL: ScaleChannels = Array.from({ length: NUM_SCALES }, () => [0, 1, 2])

/**
 * How many scales the metric has for an image: like the reference, a scale is added while the previous one
 * is at least 8×8 (so the last may be smaller), at most six.
 */
export function scaleCount(width: number, height: number): number {
  if (width < 8 || height < 8) return 0
  let scales = 1
  for (let w = width, h = height; scales < NUM_SCALES && w >= 8 && h >= 8; scales++)
    [w, h] = [(w + 1) >> 1, (h + 1) >> 1]
  return scales
}

/**
 * The channels with a say in the score of an image with `scales` scales. The reference takes its weights in
 * order over the scales present, so which weight a (scale, channel) gets depends on how many there are. One
 * whose six weights are all below 0.01 (for six scales: X and B at full size, B at 1/2 and 1/4, all at 1/32)
 * moved no score by more than 0.0005 points on the corpus (JPEG and WebP at q20–95), yet computing them is
 * half of the work: full size alone is ¾ of the pixels. The search scores in these (so does the `score` it
 * delivers, within 0.0005); `ssimulacra2` and the tests use EVERY_CHANNEL.
 */
export function weightedChannels(scales: number = NUM_SCALES): ScaleChannels {
  return Array.from({ length: scales }, (_, scale) =>
    [0, 1, 2].filter((c) => WEIGHT.slice((c * scales + scale) * 6, (c * scales + scale + 1) * 6).some((w) => w >= 0.01))
  )
}

/**
 * Prepares `first` (8-bit sRGB or linear RGB) as the reference of comparisons over up to `scales` scales,
 * computing the channels `channels` lists for each. With `halvings`, an 8-bit `first` is halved that many times
 * first, as the pyramid does, and so is every image compared with it: its scales are then the image's from
 * 1/2^halvings on (`channels` should start at that scale too). `release()` it when done: its memory goes back
 * to a pool for the next one (an unreleased one is simply garbage-collected).
 */
export function prepareReference(
  first: LinearImage | RgbImage,
  scales: number,
  channels: ScaleChannels = EVERY_CHANNEL,
  halvings = 0
): PreparedReference {
  return new WasmReference(first, scales, channels, halvings)
}

/**
 * Sums of `second` (linear RGB, the reference's size) against a prepared reference. `border` pixels at the
 * first scale (halved at each next one) are computed but not counted: a crop cut with that much context
 * around the part that counts sees the blur of the whole image there, not the zero padding of its own edges.
 */
export function sumsAgainst(reference: PreparedReference, second: LinearImage | RgbImage, border = 0): PartialSums {
  return reference.sumsAgainst(second, border)
}

/** Sums over `scales` scales of two linear images (see `sumsAgainst` for `border`). */
export function pyramidSums(first: LinearImage, second: LinearImage, scales: number, border: number): PartialSums {
  return once(prepareReference(first, scales), (prepared) => sumsAgainst(prepared, second, border))
}

/**
 * A scorer of images against one reference: the reference's side of the metric is computed once, so each
 * further comparison costs about half of a standalone `ssimulacra2` call; a quarter with `weighted` (only the
 * channels with a say, see `weightedChannels`).
 */
export function scorerFor(reference: RgbImage, weighted = false): Scorer<[RgbImage]> {
  if (reference.width < 8 || reference.height < 8) throw new RangeError('SSIMULACRA2: images must be at least 8×8')
  const prepared = prepareReference(
    reference,
    NUM_SCALES,
    weighted ? weightedChannels(scaleCount(reference.width, reference.height)) : EVERY_CHANNEL
  )
  return Object.assign((distorted: RgbImage) => scoreFromSums(sumsAgainst(prepared, distorted)), {
    release: () => prepared.release()
  })
}

/** Scores images against a reference it holds prepared; `release()` when done (see `prepareReference`). */
export type Scorer<Args extends unknown[]> = ((...args: Args) => number) & { release(): void }

/** Adds the sums of several crops, which must have the same number of scales (crops of one size do). */
export function addSums(parts: PartialSums[]): PartialSums {
  const scales = Math.min(...parts.map((p) => p.sums.length))
  const total: PartialSums = { sums: [], pixels: [] }
  for (let s = 0; s < scales; s++) {
    const sums = new Float64Array(18)
    for (const p of parts) for (let k = 0; k < 18; k++) sums[k]! += p.sums[s]![k]!
    total.sums.push(sums)
    total.pixels.push(parts.reduce((acc, p) => acc + p.pixels[s]!, 0))
  }
  return total
}

/** The SSIMULACRA2 score (100 = identical, 90 visually lossless, 70 high, 50 medium, 30 low quality). */
export function scoreFromSums(total: PartialSums): number {
  let sum = 0
  let i = 0
  // Like the reference, weights are taken in order over the scales present (a small image uses fewer).
  for (let c = 0; c < 3; c++) {
    for (let s = 0; s < total.sums.length; s++) {
      const sums = total.sums[s]!,
        n = total.pixels[s]!
      for (let norm = 0; norm < 2; norm++) {
        const value = (k: number) =>
          norm === 0 ? sums[c * 6 + k]! / n : Math.sqrt(Math.sqrt(sums[c * 6 + k + 1]! / n))
        sum += WEIGHT[i++]! * value(0)
        sum += WEIGHT[i++]! * value(2)
        sum += WEIGHT[i++]! * value(4)
      }
    }
  }
  let x = sum * 0.9562382616834844
  x = 6.248496625763138e-5 * x * x * x + 2.326765642916932 * x - 0.020884521182843837 * x * x
  return x > 0 ? 100 - 10 * x ** 0.6276336467831387 : 100
}

/** SSIMULACRA2 of `distorted` against `reference` (same size, 8-bit sRGB). */
export function ssimulacra2(reference: RgbImage, distorted: RgbImage): number {
  return scoreFromSums(partialSums(reference, distorted))
}
