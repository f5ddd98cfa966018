import type { RawImage } from './pixels.ts'

/**
 * The proxy the search brackets the floor on before any full-size trial: a mosaic of MOSAIC_GRID×MOSAIC_GRID
 * tiles of TILE pixels cut from the image at full resolution. A downscaled image scored from 18 points below to
 * 12 above the full size at the same quality, as its detail is denser; tiles encode as they do in the whole
 * image and read 0–5 points optimistic, from the seams (see `mosaicOptimism`). Its trials are cheap.
 */
const TILE = 64
const MOSAIC_GRID = 4
/** The mosaic's pixels. Images up to this size are their own proxy: their trials are the final ones. */
export const PROXY_PIXELS = (TILE * MOSAIC_GRID) ** 2

/** Whether a mosaic can be cut from an image (each side at least a tile); thinner ones are downscaled instead. */
export const canTile = (width: number, height: number): boolean => Math.min(width, height) >= TILE

/**
 * MOSAIC_GRID×MOSAIC_GRID tiles from the middles of as many cells of the image, side by side, on the 16-pixel
 * grid of JPEG's and WebP's blocks so each tile is cut into the blocks the whole image's encoding has.
 */
export function mosaic(raw: RawImage): RawImage {
  if (!canTile(raw.width, raw.height)) throw new RangeError(`a ${raw.width}×${raw.height} image is too thin for tiles`)
  const side = TILE * MOSAIC_GRID,
    ch = raw.channels,
    rowBytes = TILE * ch
  const data = Buffer.allocUnsafe(side * side * ch)
  for (let gy = 0; gy < MOSAIC_GRID; gy++) {
    const top = tileOrigin(raw.height, gy)
    for (let gx = 0; gx < MOSAIC_GRID; gx++) {
      const left = tileOrigin(raw.width, gx)
      for (let y = 0; y < TILE; y++) {
        const from = ((top + y) * raw.width + left) * ch
        raw.data.copy(data, ((gy * TILE + y) * side + gx * TILE) * ch, from, from + rowBytes)
      }
    }
  }
  return { data, width: side, height: side, channels: ch }
}

/** Where the tile of `cell` starts along a side of `extent` pixels: its middle, on the 16-pixel grid, inside. */
function tileOrigin(extent: number, cell: number): number {
  const middle = Math.round(((cell + 0.5) * extent) / MOSAIC_GRID - TILE / 2)
  return Math.max(0, Math.min(extent - TILE, middle)) & ~15
}

/**
 * How far the mosaic's scores typically sit above the full size's at the same quality, near a score of
 * `target`, for an image of `pixels`: more at lower scores, where the whole image's coarse scales (blocking
 * across a sky, which 64-pixel tiles cannot show) weigh in, and more the larger the image, as its 16 tiles
 * cover less of it and its coarse scales hold more. Medians on the 11 bench photos (JPEG; WebP alike): below
 * 0.3 MP 1.8 / 0.9 / 0.4 points near 60 / 70 / 80; from 0.8 to 6 MP 5.8 / 2.5 / 2.6 near 62 / 72 / 82 (spread
 * ±2–4; flowers.jpeg is 7–17 off).
 */
export const mosaicOptimism = (target: number, pixels: number): number =>
  Math.max(1, 1.5 + 0.1 * (80 - target)) * Math.min(1.75, Math.max(0.5, Math.log2(pixels / PROXY_PIXELS) / 4))
