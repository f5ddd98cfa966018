import type { Size } from '@imgproc/core'

/**
 * In which order a set makes its distinct outputs: the largest first (by pixels; ties in the request's order).
 * A format's later searches are carried from its first (quality/hints.ts): the search of the largest size, whose
 * full-size trials cost the most, gets its own proxy and places its trials best; the smaller sizes, which mostly
 * need the same quality or less, start from it, and a trial of theirs that misses costs a fraction of one at the
 * largest size. The outputs are still recorded in the request's order.
 */
export function makingOrder(sizes: readonly Size[]): number[] {
  return sizes
    .map((size, index) => ({ pixels: size.width * size.height, index }))
    .sort((a, b) => b.pixels - a.pixels || a.index - b.index)
    .map((s) => s.index)
}
