import { Semaphore } from 'async-mutex'
import pLimit from 'p-limit'

/**
 * The worker's compression slots: at most `images` compress at once, and at most `megapixels` between them. A
 * pipeline's memory scales with its pixels (an encoder that optimises its Huffman tables holds the whole image's
 * coefficients), so small images fill the cores while large ones take turns.
 * Waiters are served in order: a large image is not overtaken for ever by small ones.
 */
export function compressSlots(limits: { images: number; megapixels: number }) {
  const images = pLimit(limits.images)
  const pixels = new Semaphore(limits.megapixels)
  return <T>(megapixels: number, work: () => Promise<T>): Promise<T> =>
    images(() => pixels.runExclusive(work, slotWeight(megapixels, limits.megapixels)))
}

/** An image's share of the budget: whole megapixels, at least 1, and at most the budget (a larger one runs alone). */
export function slotWeight(megapixels: number, budget: number): number {
  return Math.min(budget, Math.max(1, Math.ceil(megapixels)))
}
