import type { BackgroundFacts, Box } from '@imgproc/core'
import type { RawImage } from '../quality/pixels.ts'

/**
 * A product photo's background, from its pixels alone (no sharp): the border's colour and how uniform it is,
 * the region connected to the border in that colour (flood fill), and the box of everything else (the product).
 * Transparent pixels count as white: a transparent PNG is flattened on white before any marketplace sees it.
 */

/** Two colours within this much on every channel are the same background (JPEG noise, a photographer's paper). */
export const BACKGROUND_TOLERANCE = 32
/** The share of the border that must be one colour for it to be a background at all. */
export const MIN_UNIFORM = 0.9
/** A background at least this bright on every channel (and not white) can be made white. */
export const MIN_LIGHT = 170
/** What counts as white already: JPEG's noise around 255. */
export const MIN_WHITE = 250

export interface BackgroundAnalysis {
  facts: BackgroundFacts
  /** The product: everything not connected background, or the whole frame when there is no background. */
  box: Box
  /** 1 where a pixel is background connected to the border (null when the background is busy). */
  mask: Uint8Array | null
}

/** The pixel at `i` as it would look on white (alpha composited), RGB. */
function rgbAt(image: RawImage, i: number, out: number[]): number[] {
  const { data, channels } = image
  const o = i * channels
  const grey = channels <= 2
  let r = data[o]!
  let g = grey ? r : data[o + 1]!
  let b = grey ? r : data[o + 2]!
  const alpha = channels === 2 ? data[o + 1]! : channels === 4 ? data[o + 3]! : 255
  if (alpha < 255) {
    const a = alpha / 255
    r = Math.round(r * a + 255 * (1 - a))
    g = Math.round(g * a + 255 * (1 - a))
    b = Math.round(b * a + 255 * (1 - a))
  }
  out[0] = r
  out[1] = g
  out[2] = b
  return out
}

/** Indices of the outermost ring of pixels, `band` deep. */
export function borderPixels(width: number, height: number, band: number): number[] {
  const out: number[] = []
  const b = Math.max(1, Math.min(band, Math.floor(Math.min(width, height) / 2)))
  for (let y = 0; y < height; y++) {
    const edgeRow = y < b || y >= height - b
    for (let x = 0; x < width; x++) if (edgeRow || x < b || x >= width - b) out.push(y * width + x)
  }
  return out
}

const near = (a: number[], c: readonly number[], tolerance: number) =>
  Math.abs(a[0]! - c[0]!) <= tolerance && Math.abs(a[1]! - c[1]!) <= tolerance && Math.abs(a[2]! - c[2]!) <= tolerance

/** The border's median colour and the share of border pixels near it. */
export function borderColour(image: RawImage): { colour: [number, number, number]; uniform: number; white: number } {
  const band = Math.max(1, Math.round(Math.min(image.width, image.height) * 0.01))
  const ring = borderPixels(image.width, image.height, band)
  const channels: number[][] = [[], [], []]
  const px = [0, 0, 0]
  for (const i of ring) {
    rgbAt(image, i, px)
    channels[0]!.push(px[0]!)
    channels[1]!.push(px[1]!)
    channels[2]!.push(px[2]!)
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!
  const colour: [number, number, number] = [median(channels[0]!), median(channels[1]!), median(channels[2]!)]
  let same = 0
  let white = 0
  for (const i of ring) {
    rgbAt(image, i, px)
    if (near(px, colour, BACKGROUND_TOLERANCE)) same++
    if (px[0]! >= MIN_WHITE && px[1]! >= MIN_WHITE && px[2]! >= MIN_WHITE) white++
  }
  return { colour, uniform: same / ring.length, white: white / ring.length }
}

/** What kind of background the border shows (see BackgroundFacts). */
export function backgroundKind(border: { colour: number[]; uniform: number; white: number }): BackgroundFacts['kind'] {
  if (border.uniform < MIN_UNIFORM) return 'busy'
  if (border.white >= MIN_UNIFORM) return 'white'
  return Math.min(...border.colour) >= MIN_LIGHT ? 'light' : 'dark'
}

/**
 * Background pixels: those within the tolerance of `colour` reachable from the border through each other
 * (4-connected). A product's own light parts stay unless they touch the background through similar pixels.
 */
export function floodBackground(
  image: RawImage,
  colour: readonly number[],
  tolerance = BACKGROUND_TOLERANCE
): Uint8Array {
  const { width, height } = image
  const mask = new Uint8Array(width * height)
  const stack = new Int32Array(width * height)
  let top = 0
  const px = [0, 0, 0]
  const visit = (i: number) => {
    if (mask[i]) return
    if (!near(rgbAt(image, i, px), colour, tolerance)) return
    mask[i] = 1
    stack[top++] = i
  }
  for (let x = 0; x < width; x++) {
    visit(x)
    visit((height - 1) * width + x)
  }
  for (let y = 0; y < height; y++) {
    visit(y * width)
    visit(y * width + width - 1)
  }
  while (top > 0) {
    const i = stack[--top]!
    const x = i % width
    if (x > 0) visit(i - 1)
    if (x < width - 1) visit(i + 1)
    if (i >= width) visit(i - width)
    if (i < (height - 1) * width) visit(i + width)
  }
  return mask
}

/**
 * The box around what is not background. A row or column counts only with more than `minRun` product pixels
 * in it, so stray specks of noise in the background do not stretch the box to the frame.
 */
export function contentBox(mask: Uint8Array, width: number, height: number): Box {
  const rows = new Uint32Array(height)
  const cols = new Uint32Array(width)
  for (let y = 0; y < height; y++) {
    const o = y * width
    for (let x = 0; x < width; x++) {
      if (!mask[o + x]) {
        rows[y]!++
        cols[x]!++
      }
    }
  }
  const first = (counts: Uint32Array, min: number) => counts.findIndex((c) => c > min)
  const last = (counts: Uint32Array, min: number) => {
    for (let i = counts.length - 1; i >= 0; i--) if (counts[i]! > min) return i
    return -1
  }
  const minRow = Math.max(1, Math.floor(width * 0.002))
  const minCol = Math.max(1, Math.floor(height * 0.002))
  const top = first(rows, minRow)
  const left = first(cols, minCol)
  if (top < 0 || left < 0) return { left: 0, top: 0, width, height } // nothing but background
  return { left, top, width: last(cols, minCol) - left + 1, height: last(rows, minRow) - top + 1 }
}

/** The background of `image`, its connected region and the product's box. */
export function analyseBackground(image: RawImage): BackgroundAnalysis {
  const border = borderColour(image)
  const kind = backgroundKind(border)
  const frame = { left: 0, top: 0, width: image.width, height: image.height }
  if (kind === 'busy')
    return { facts: { kind, colour: border.colour, uniform: border.uniform, fill: 1 }, box: frame, mask: null }
  const mask = floodBackground(image, border.colour)
  const box = contentBox(mask, image.width, image.height)
  const fill = Math.max(box.width / image.width, box.height / image.height)
  return { facts: { kind, colour: border.colour, uniform: border.uniform, fill }, box, mask }
}

/** A copy of `image` with its background pixels (the mask) set to `colour`, opaque. */
export function paintBackground(image: RawImage, mask: Uint8Array, colour: readonly number[]): RawImage {
  const data = Buffer.from(image.data)
  const { channels } = image
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue
    const o = i * channels
    if (channels <= 2) data[o] = Math.round((colour[0]! + colour[1]! + colour[2]!) / 3)
    else {
      data[o] = colour[0]!
      data[o + 1] = colour[1]!
      data[o + 2] = colour[2]!
    }
    if (channels === 2 || channels === 4) data[o + channels - 1] = 255
  }
  return { ...image, data }
}

/** Whether any pixel is less than opaque. */
export function hasTransparency(image: RawImage): boolean {
  if (image.channels !== 2 && image.channels !== 4) return false
  const { data, channels } = image
  for (let o = channels - 1; o < data.length; o += channels) if (data[o]! < 255) return true
  return false
}
