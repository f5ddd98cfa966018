import type { Box, Size } from '@imgproc/core'

/** What an output shows of the source, whatever its size. */
export interface Picture {
  /** Whether the background was made white (and so the pixels changed). */
  whiten: boolean
  /** The part of the source shown (the whole, or a trimmed box). */
  region: Box
  /** The background behind transparency and any padding. */
  background: string
  fit: string
  /** The output's canvas: unless fitted inside, its shape says how the region is cropped or padded. */
  canvas: Size
}

/**
 * Which outputs of a set show the same picture at different sizes (web's widths), as one key. Only those carry
 * each other's quality searches (quality/hints.ts): a format's quality at one size of a picture predicts it at
 * another, but says nothing of a whitened, trimmed, cropped or padded one.
 */
export function pictureKey(picture: Picture): string {
  const { whiten, region, background, fit, canvas } = picture
  // Fitted inside, the canvas is the region's shape, whatever rounding did to its sides; cropped or padded, it is
  // the box asked for.
  const shape = fit === 'inside' ? null : Math.round((1000 * canvas.width) / canvas.height)
  return JSON.stringify([whiten, region, background, fit, shape])
}
