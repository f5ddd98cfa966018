/**
 * Where an image lands in an output, as arithmetic on sizes: how far it is scaled, the output's size, and where
 * the image sits on it. Never enlarged unless the output allows it; then bounded by a marketplace's limits.
 */

export interface Size {
  width: number
  height: number
}

/** An axis-aligned box in pixels. */
export interface Box extends Size {
  left: number
  top: number
}

export interface Placement {
  /** The image's size once scaled. */
  resize: Size
  /** The output's size: the image itself, a canvas around it (contain, pad), or a window into it (cover). */
  canvas: Size
  /** Where the scaled image's top-left corner sits on the canvas (negative where cover crops). */
  left: number
  top: number
  scale: number
}

export interface PlacementRequest {
  width: number | null
  height: number | null
  /** As OutputFit (spec.ts) describes them. */
  fit: 'inside' | 'cover' | 'contain' | 'pad'
  /** fit=pad: the share of the canvas the image's longest side takes. */
  fill: number | null
  upscale: boolean
}

/** A marketplace's size limits on the whole output. */
export interface SizeLimits {
  maxSide: number
  maxPixels: number
}

export const NO_LIMITS: SizeLimits = { maxSide: Infinity, maxPixels: Infinity }

const px = (n: number) => Math.max(1, Math.round(n))

/** Largest factor ≤ 1 that brings `size` within `limits`. */
export function limitScale(size: Size, limits: SizeLimits): number {
  return Math.min(
    1,
    limits.maxSide / Math.max(size.width, size.height),
    Math.sqrt(limits.maxPixels / (size.width * size.height))
  )
}

/** Where `source` lands in an output of `request`, within `limits`. */
export function placeImage(source: Size, request: PlacementRequest, limits: SizeLimits = NO_LIMITS): Placement {
  const { width: w, height: h } = source
  const W = request.width ?? Infinity
  const H = request.height ?? Infinity
  const grow = (s: number) => (request.upscale ? s : Math.min(1, s))
  switch (request.fit) {
    case 'inside': {
      const fitted = grow(Math.min(W / w, H / h))
      const scale = fitted * limitScale({ width: w * fitted, height: h * fitted }, limits)
      const resize = { width: px(w * scale), height: px(h * scale) }
      return { resize, canvas: resize, left: 0, top: 0, scale }
    }
    case 'cover':
    case 'contain': {
      // Both sides given (spec validation). Without upscale, a box larger than the image shrinks, aspect kept.
      const cover = request.fit === 'cover'
      const wanted = cover ? Math.max(W / w, H / h) : Math.min(W / w, H / h)
      const scale0 = grow(wanted)
      const shrink = scale0 / wanted
      const box = { width: W * shrink, height: H * shrink }
      const limit = limitScale(box, limits)
      const scale = scale0 * limit
      const resize = { width: px(w * scale), height: px(h * scale) }
      return centred(resize, { width: px(box.width * limit), height: px(box.height * limit) }, scale, !cover)
    }
    case 'pad': {
      // The canvas has the box's aspect (square without both sides) and holds the image at `fill`.
      const fill = request.fill ?? 1
      const aspect = request.width && request.height ? request.width / request.height : 1
      const canvasHeight = Math.max(h, w / aspect) / fill
      const canvas0 = { width: canvasHeight * aspect, height: canvasHeight }
      const scale0 = grow(Math.min(W / canvas0.width, H / canvas0.height))
      const scale = scale0 * limitScale({ width: canvas0.width * scale0, height: canvas0.height * scale0 }, limits)
      return centred(
        { width: px(w * scale), height: px(h * scale) },
        { width: px(canvas0.width * scale), height: px(canvas0.height * scale) },
        scale,
        true
      )
    }
  }
}

/** The image centred on the canvas; a canvas around it (contain, pad) is never smaller than it after rounding. */
function centred(resize: Size, canvas: Size, scale: number, around: boolean): Placement {
  const out = around
    ? { width: Math.max(canvas.width, resize.width), height: Math.max(canvas.height, resize.height) }
    : canvas
  return {
    resize,
    canvas: out,
    left: Math.floor((out.width - resize.width) / 2),
    top: Math.floor((out.height - resize.height) / 2),
    scale
  }
}

/** How much of the canvas the image fills: its longest extent as a share of the canvas's. */
export function fillOf(placement: Pick<Placement, 'resize' | 'canvas'>): number {
  const { resize, canvas } = placement
  return Math.max(
    Math.min(resize.width, canvas.width) / canvas.width,
    Math.min(resize.height, canvas.height) / canvas.height
  )
}

/** How much of a frame a product's box fills (the same measure, for a source before any change). */
export function boxFill(box: Size, frame: Size): number {
  return Math.max(box.width / frame.width, box.height / frame.height)
}
