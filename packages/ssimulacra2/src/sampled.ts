/**
 * The metric of a large image estimated from part of it, for scoring many encodes of one reference cheaply:
 * its three coarse scales (1/8 to 1/32) exactly, from the whole image halved three times, and its three fine
 * scales (1/1 to 1/4) on GRID×GRID full-resolution crops, one per cell, each cut with BORDER pixels of context
 * that are not counted (so the blur sees the image, not a crop edge). The crops' sums and the coarse scales'
 * add up to one score. On the corpus it read within +0.9 / −7 of the whole-image score near the search's floors
 * (+1.1 on a star field as WebP q50; up to 3.7 optimistic at the alpha edges of transparent products flattened
 * on white): a caller deciding on it leaves a margin.
 */
import {
  addSums,
  type PreparedReference,
  prepareReference,
  type Scorer,
  scoreFromSums,
  sumsAgainst,
  weightedChannels
} from './ssimulacra2.ts'
import type { PartialSums, RgbImage } from './types.ts'

const GRID = 4
const INNER = 80
const BORDER = 24
/** Both sides at least this long: six scales, the coarse three from 1/8 on, and room for a window per cell. */
export const SAMPLED_MIN_SIDE = 256
/** Sampled images have all six scales: fine ones from crops, coarse ones from the whole. */
const SAMPLED_CHANNELS = weightedChannels(6)

interface Region {
  left: number
  top: number
  width: number
  height: number
}

/**
 * Scores images against `reference` from a sample (see the top of this file), in the channels with a say
 * (`weightedChannels`). The image is split into GRID×GRID cells (stratified sampling) and each cell
 * contributes one window chosen by a cheap map of its absolute difference from the reference (PERCENTILE).
 * Fixed positions missed errors concentrated in parts of an image (a product on a plain background) by up
 * to 6 points; the worst window per cell was 9 points too pessimistic.
 *
 * The second argument is the encoder quality that made the image scored: the windows, and their reference
 * side, are kept for images within RERANK_QUALITY of the one that chose them. Ranking and preparing them
 * again cost ~35 ms per 6 MP trial, and nearby qualities err in the same places; scoring the same pixels also
 * makes the differences between trials the encoder's, not the sample's.
 */
export function sampledScorer(reference: RgbImage): Scorer<[RgbImage, number]> {
  if (Math.min(reference.width, reference.height) < SAMPLED_MIN_SIDE)
    throw new RangeError(`SSIMULACRA2: a sampled image needs both sides of at least ${SAMPLED_MIN_SIDE} pixels`)
  // The coarse scales' reference side is the same for every image scored.
  const referenceCoarse = prepareReference(reference, 3, SAMPLED_CHANNELS.slice(3), 3)
  const sample = new Sample(reference)
  const score = (distorted: RgbImage, quality: number) => {
    const { regions, prepared } = sample.windowsFor(distorted, quality)
    const fine = addSums(regions.map((r, i) => sumsAgainst(prepared[i]!, crop(distorted, r), BORDER)))
    const coarse = sumsAgainst(referenceCoarse, distorted)
    const whole: PartialSums = { sums: [...fine.sums, ...coarse.sums], pixels: [...fine.pixels, ...coarse.pixels] }
    return scoreFromSums(whole)
  }
  return Object.assign(score, {
    release: () => {
      sample.release()
      referenceCoarse.release()
    }
  })
}

/** How far (quality points) an image's encoder quality may be from the one whose errors chose the windows. */
const RERANK_QUALITY = 10

/** The sample's windows and their reference side, prepared; chosen again when the quality moves too far. */
class Sample {
  #chosen: { quality: number; regions: Region[]; prepared: PreparedReference[] } | null = null

  constructor(readonly reference: RgbImage) {}

  windowsFor(distorted: RgbImage, quality: number): { regions: Region[]; prepared: PreparedReference[] } {
    if (!this.#chosen || Math.abs(quality - this.#chosen.quality) > RERANK_QUALITY) {
      this.release()
      const regions = chooseWindows(this.reference, distorted)
      this.#chosen = {
        quality,
        regions,
        prepared: regions.map((r) => prepareReference(crop(this.reference, r), 3, SAMPLED_CHANNELS))
      }
    }
    return this.#chosen
  }

  release(): void {
    for (const p of this.#chosen?.prepared ?? []) p.release()
    this.#chosen = null
  }
}

const BLOCK = 16
/**
 * Which window of a cell stands for it, ranked by its difference from the reference. The metric's 4-norms
 * weigh the worst parts, so the median window reads optimistic (by up to 2.8 points on transparent
 * products); the 75th percentile stayed within +0.9 / −7 of the whole-image score on the corpus.
 */
const PERCENTILE = 0.75

/** Per cell, the INNER×INNER window (on the 16-pixel grid, with room for its border) at the PERCENTILE of difference. */
function chooseWindows(a: RgbImage, b: RgbImage): Region[] {
  const bw = Math.floor(a.width / BLOCK),
    bh = Math.floor(a.height / BLOCK)
  const blocks = blockDifferences(a, b, bw, bh)
  // Summed-area table of the block sums.
  const sat = new Float64Array((bw + 1) * (bh + 1))
  for (let by = 0; by < bh; by++) {
    let row = 0
    for (let bx = 0; bx < bw; bx++) {
      row += blocks[by * bw + bx]!
      sat[(by + 1) * (bw + 1) + bx + 1] = sat[by * (bw + 1) + bx + 1]! + row
    }
  }
  const boxSum = (x: number, y: number, n: number) =>
    sat[(y + n) * (bw + 1) + x + n]! -
    sat[y * (bw + 1) + x + n]! -
    sat[(y + n) * (bw + 1) + x]! +
    sat[y * (bw + 1) + x]!
  const n = INNER / BLOCK
  const margin = Math.ceil(BORDER / BLOCK)
  const regions: Region[] = []
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      // Window origins (in blocks) inside this cell, with the crop's border inside the image.
      const x0 = Math.max(margin, Math.floor((gx * bw) / GRID)),
        x1 = Math.min(bw - margin - n, Math.floor(((gx + 1) * bw) / GRID) - n)
      const y0 = Math.max(margin, Math.floor((gy * bh) / GRID)),
        y1 = Math.min(bh - margin - n, Math.floor(((gy + 1) * bh) / GRID) - n)
      const sums: number[] = []
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) sums.push(boxSum(x, y, n))
      sums.sort((p, q) => p - q)
      const target = sums[Math.floor(sums.length * PERCENTILE)] ?? 0
      let best = {
        x: Math.max(margin, Math.min(x0, bw - margin - n)),
        y: Math.max(margin, Math.min(y0, bh - margin - n)),
        gap: Infinity
      }
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          const gap = Math.abs(boxSum(x, y, n) - target)
          if (gap < best.gap) best = { x, y, gap }
        }
      regions.push({
        left: best.x * BLOCK - BORDER,
        top: best.y * BLOCK - BORDER,
        width: INNER + 2 * BORDER,
        height: INNER + 2 * BORDER
      })
    }
  }
  return regions
}

/**
 * Per BLOCK×BLOCK block, the sum of |a − b| over the three channels of every other pixel of every other row:
 * it only ranks windows, and reading all of a 6 MP image cost ~40 ms per trial. Row by row, so each row of
 * bytes is read in order (block by block it cost 8–38 ms on a 6 MP image, against 5–10).
 */
function blockDifferences(a: RgbImage, b: RgbImage, bw: number, bh: number): Float64Array {
  const blocks = new Float64Array(bw * bh)
  const A = a.data,
    B = b.data,
    stride = a.width * 3,
    span = BLOCK * 3
  for (let y = 0; y < bh * BLOCK; y += 2) {
    const out = Math.floor(y / BLOCK) * bw
    for (let bx = 0, i = y * stride; bx < bw; bx++, i += span) {
      let sum = 0
      for (let j = i; j < i + span; j += 6)
        sum += Math.abs(A[j]! - B[j]!) + Math.abs(A[j + 1]! - B[j + 1]!) + Math.abs(A[j + 2]! - B[j + 2]!)
      blocks[out + bx]! += sum
    }
  }
  return blocks
}

function crop(img: RgbImage, r: Region): RgbImage {
  const data = new Uint8Array(r.width * r.height * 3)
  for (let y = 0; y < r.height; y++) {
    const from = ((r.top + y) * img.width + r.left) * 3
    data.set(img.data.subarray(from, from + r.width * 3), y * r.width * 3)
  }
  return { data, width: r.width, height: r.height }
}
