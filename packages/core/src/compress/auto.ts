import type Sharp from 'sharp'
import type { EncodeFormat } from './plan.ts'
import { addSums, linearHalved, partialSums, pyramidSums, scoreFromSums, toLinear, type PartialSums, type RgbImage } from '../quality/ssimulacra2.ts'
import { chooseQuality, nextFullQuality, nextProxyQuality, startQuality, type Trial } from '../quality/search.ts'

/**
 * quality=auto: the thin sharp side of the search whose decisions live in quality/search.ts.
 *
 * Cost bounds (SSIMULACRA2 in JS costs ~25× a JPEG encode per pixel, so pixels scored are what we budget):
 * - the proxy is the image downscaled to ≤ PROXY_PIXELS; its trials are cheap;
 * - the full-size output is what gets scored for the decision: whole up to CONFIRM_PIXELS; above, its three
 *   coarse scales (1/8 to 1/32) exactly, from the whole image halved three times, and its three fine scales
 *   (1/1 to 1/4) on a GRID×GRID sample of full-resolution crops, each cut with BORDER pixels of context that
 *   are not counted (so the blur sees the image, not a crop edge). A sample can miss the worst part of an
 *   image, so sampled confirmations must beat the floor by SAMPLE_MARGIN.
 */
export const PROXY_PIXELS = 32_768
export const CONFIRM_PIXELS = 524_288
const GRID = 4
const INNER = 80
const BORDER = 24
export const SAMPLE_MARGIN = 2

export interface RawImage {
  data: Buffer
  width: number
  height: number
  channels: 1 | 2 | 3 | 4
}

export interface EncoderSettings {
  format: EncodeFormat
  mozjpeg: boolean
}

/** The encoder options of every still output, fixed or auto: one place, so trials encode like the delivery. */
export function encode(pipeline: Sharp.Sharp, format: EncodeFormat, quality: number, mozjpeg: boolean): Sharp.Sharp {
  switch (format) {
    case 'jpeg': return pipeline.jpeg({ quality, mozjpeg })
    case 'png': return pipeline.png({ quality, palette: true, effort: 4, compressionLevel: 9 })
    case 'webp': return pipeline.webp({ quality, effort: 4 })
    case 'gif': return pipeline.gif({ effort: 7 })
    case 'avif': return pipeline.avif({ quality, effort: 2 })
  }
}

export interface AutoResult {
  data: Buffer
  quality: number
  score: number
  /** Whether the delivered output reached the floor (otherwise it is the best-scoring one tried). */
  met: boolean
  /** Every trial, for the bench and for tuning: the proxy's and the full-size ones. */
  proxy: Trial[]
  full: Trial[]
  /** Whether the full-size score covers the whole image or a sample of crops. */
  sampled: boolean
}

/** Searches the quality of one still image already decoded to `raw` (oriented, sRGB, resized). */
export async function encodeAuto(sharp: typeof Sharp, raw: RawImage, settings: EncoderSettings, floor: number): Promise<AutoResult> {
  const rawInput = (img: RawImage) => sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
  const encodeAt = (img: RawImage, quality: number) => encode(rawInput(img), settings.format, quality, settings.mozjpeg).toBuffer()
  const pixels = raw.width * raw.height
  if (raw.width < 8 || raw.height < 8) {
    // Too small for the metric's 8×8 window: the level's typical quality, no score.
    const quality = startQuality(floor)
    return { data: await encodeAt(raw, quality), quality, score: NaN, met: false, proxy: [], full: [], sampled: false }
  }

  // Stage 1: the proxy (the image itself when it is small: then its trials are the final ones).
  const small = pixels <= PROXY_PIXELS
  const proxy = small ? raw : await downscale(sharp, raw, PROXY_PIXELS)
  const proxyRef = await flattenRaw(sharp, proxy)
  const proxyTrials: Trial[] = []
  const proxyOutputs = new Map<number, Buffer>()
  for (let q = nextProxyQuality(proxyTrials, floor); q !== null; q = nextProxyQuality(proxyTrials, floor)) {
    const out = await encodeAt(proxy, q)
    proxyTrials.push({ quality: q, score: scoreFromSums(partialSums(proxyRef, await decodeFlat(sharp, out))), bytes: out.length })
    if (small) proxyOutputs.set(q, out)
  }
  if (small) {
    const { trial, met } = chooseQuality(proxyTrials, floor)
    return { data: proxyOutputs.get(trial.quality)!, quality: trial.quality, score: trial.score, met, proxy: proxyTrials, full: [], sampled: false }
  }

  // Stage 2: full size, scored on the whole image or on a sample of crops.
  // Thin images have fewer than six scales in their 1/8 part: those are scored whole.
  const sampled = pixels > CONFIRM_PIXELS && Math.min(raw.width, raw.height) >= 256
  const required = sampled ? floor + SAMPLE_MARGIN : floor
  const reference = await flattenRaw(sharp, raw)
  const scorer = sampled ? sampledScorer(reference) : (decoded: RgbImage) => scoreFromSums(partialSums(reference, decoded))
  const fullTrials: Trial[] = []
  const outputs = new Map<number, Buffer>()
  for (let q = nextFullQuality(proxyTrials, fullTrials, required); q !== null; q = nextFullQuality(proxyTrials, fullTrials, required)) {
    const out = await encodeAt(raw, q)
    const score = scorer(await decodeFlat(sharp, out))
    fullTrials.push({ quality: q, score, bytes: out.length })
    outputs.set(q, out)
  }
  const { trial, met } = chooseQuality(fullTrials, required)
  return { data: outputs.get(trial.quality)!, quality: trial.quality, score: trial.score, met, proxy: proxyTrials, full: fullTrials, sampled }
}

async function downscale(sharp: typeof Sharp, raw: RawImage, maxPixels: number): Promise<RawImage> {
  const scale = Math.sqrt(maxPixels / (raw.width * raw.height))
  const width = Math.max(8, Math.round(raw.width * scale))
  const height = Math.max(8, Math.round(raw.height * scale))
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
}

/** The metric has no alpha: both sides are flattened on white, as a page would show a transparent product shot. */
async function flattenRaw(sharp: typeof Sharp, raw: RawImage): Promise<RgbImage> {
  if (raw.channels === 3) return { data: raw.data, width: raw.width, height: raw.height }
  const { data, info } = await sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

/** Decodes an encoded output to 8-bit sRGB, flattened on white, as the reference is. */
export async function decodeFlat(sharp: typeof Sharp, encoded: Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(encoded).flatten({ background: '#ffffff' }).toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height }
}

interface Region { left: number; top: number; width: number; height: number }

/**
 * Scores large outputs against `reference`: coarse scales from the whole image, fine scales from crops on a
 * grid (see the top of this file). The reference's parts are prepared once for all trials.
 */
export function sampledScorer(reference: RgbImage): (decoded: RgbImage) => number {
  const regions = grid(reference.width, reference.height)
  const referenceCoarse = linearHalved(reference, 3)
  const referenceTiles = regions.map((r) => toLinear(crop(reference, r)))
  return (decoded) => {
    const fine = addSums(regions.map((r, i) => pyramidSums(referenceTiles[i]!, toLinear(crop(decoded, r)), 3, BORDER)))
    const coarse = pyramidSums(referenceCoarse, linearHalved(decoded, 3), 3, 0)
    const whole: PartialSums = { sums: [...fine.sums, ...coarse.sums], pixels: [...fine.pixels, ...coarse.pixels] }
    return scoreFromSums(whole)
  }
}

/** GRID×GRID crops spread evenly, aligned to 16 pixels (the JPEG/WebP macroblock), with their context border. */
function grid(width: number, height: number): Region[] {
  const size = INNER + 2 * BORDER
  const at = (i: number, extent: number) => Math.min(extent - size, Math.max(0, Math.round((((i + 0.5) / GRID) * extent - size / 2) / 16) * 16))
  const regions: Region[] = []
  for (let gy = 0; gy < GRID; gy++) for (let gx = 0; gx < GRID; gx++) regions.push({ left: at(gx, width), top: at(gy, height), width: size, height: size })
  return regions
}

function crop(img: RgbImage, r: Region): RgbImage {
  const data = new Uint8Array(r.width * r.height * 3)
  for (let y = 0; y < r.height; y++) {
    const from = ((r.top + y) * img.width + r.left) * 3
    data.set(img.data.subarray(from, from + r.width * 3), y * r.width * 3)
  }
  return { data, width: r.width, height: r.height }
}
