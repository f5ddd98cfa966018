/** The metric's data: images in, sums out, and which channels a computation covers. */

/** 8-bit sRGB pixels, 3 channels interleaved (alpha is flattened by the caller: the metric has no alpha). */
export interface RgbImage {
  data: Uint8Array
  width: number
  height: number
}

/**
 * Per-pixel sums of one comparison: for each scale and channel, the SSIM error (d, d⁴) and the edge
 * differences (ringing, ringing⁴, blurring, blurring⁴), plus the pixel count of that scale. Sums of several
 * crops add up, so their score is the score of the pixels they cover.
 */
export interface PartialSums {
  /** [scale][channel * 6 + k], k: ssim, ssim⁴, ringing, ringing⁴, blurring, blurring⁴ */
  sums: Float64Array[]
  pixels: number[]
}

/** An image in linear RGB, planar: the metric's own pyramid works on these. */
export interface LinearImage {
  planes: [Float32Array, Float32Array, Float32Array]
  width: number
  height: number
}

/** Which of the channels X, Y, B (0, 1, 2) are computed at each scale, from the first. */
export type ScaleChannels = ReadonlyArray<ReadonlyArray<number>>
