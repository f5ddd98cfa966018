/** 8-bit sRGB → linear RGB, as the metric's first step (the reference's transfer curve, TO_LINEAR). */
import { TO_LINEAR } from './constants.ts'
import type { LinearImage, RgbImage } from './types.ts'

export function linearPlane(img: RgbImage, channel: number): Float32Array {
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
