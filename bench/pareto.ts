import pLimit from 'p-limit'
import sharp, { type Sharp } from 'sharp'
import { ownCpuSeconds } from './measure.ts'

/**
 * Encoder settings side by side: bytes, CPU and fidelity per image. The pipeline mirrors compressImage()
 * (auto-orient, sRGB, no resize, metadata dropped) with the encoder options compressImage does not expose.
 */
export interface Variant {
  family: 'JPEG' | 'WebP' | 'AVIF'
  name: string
  encode: (p: Sharp) => Sharp
}

export function variants(quality: number): Variant[] {
  const jpeg = (name: string, o: sharp.JpegOptions): Variant => ({
    family: 'JPEG',
    name,
    encode: (p) => p.jpeg({ quality, ...o })
  })
  return [
    jpeg('baseline (optimiseCoding: false)', { optimiseCoding: false }),
    jpeg('Huffman-optimised (service default)', {}),
    jpeg('+ progressive', { progressive: true }),
    jpeg('+ 4:4:4 chroma (no subsampling)', { chromaSubsampling: '4:4:4' }),
    jpeg('+ trellis quantisation', { trellisQuantisation: true }),
    jpeg('+ progressive + trellis', { progressive: true, trellisQuantisation: true }),
    jpeg('mozjpeg preset (trellis, overshoot, scans, progressive)', { mozjpeg: true }),
    ...[0, 2, 4, 6].map(
      (effort): Variant => ({
        family: 'WebP',
        name: `effort ${effort}${effort === 4 ? ' (service)' : ''}`,
        encode: (p) => p.webp({ quality, effort })
      })
    ),
    ...[0, 2, 4].map(
      (effort): Variant => ({
        family: 'AVIF',
        name: `effort ${effort}${effort === 2 ? ' (service)' : ''}`,
        encode: (p) => p.avif({ quality, effort })
      })
    )
  ]
}

export interface ParetoRow {
  family: string
  name: string
  images: number
  kbPerImage: number
  cpuMsPerImage: number
  /** Mean PSNR (dB) of the output against the decoded input: a smaller file at lower fidelity is not a win. */
  psnr: number
}

const pipeline = (input: Buffer) =>
  sharp(input, { failOn: 'error', sequentialRead: true }).rotate().toColourspace('srgb')

/** RGB pixels of an image after the same orientation and colour steps, for the fidelity comparison. */
const pixels = (data: Buffer) =>
  sharp(data)
    .rotate()
    .toColourspace('srgb')
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })

function psnr(a: Buffer, b: Buffer): number {
  let sum = 0
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!
    sum += d * d
  }
  const mse = sum / a.length
  return mse === 0 ? 99 : 10 * Math.log10((255 * 255) / mse)
}

/** One variant over its images: CPU is this process's, at one libvips thread and as many images at once as cores. */
export async function measure(variant: Variant, inputs: Buffer[], concurrency: number): Promise<ParetoRow> {
  sharp.concurrency(1)
  const limit = pLimit(concurrency)
  const cpu0 = process.cpuUsage()
  const outputs = await Promise.all(inputs.map((b) => limit(() => variant.encode(pipeline(b)).toBuffer())))
  const cpu = ownCpuSeconds(cpu0)
  let fidelity = 0
  for (const [i, out] of outputs.entries()) {
    const [a, b] = await Promise.all([pixels(inputs[i]!), pixels(out)])
    fidelity += psnr(a.data, b.data)
  }
  const bytes = outputs.reduce((s, o) => s + o.length, 0)
  return {
    family: variant.family,
    name: variant.name,
    images: inputs.length,
    kbPerImage: bytes / 1024 / inputs.length,
    cpuMsPerImage: (1000 * cpu) / inputs.length,
    psnr: fidelity / inputs.length
  }
}

/** Pareto-optimal within a family: no other row is at least as small, as cheap and as faithful, and better in one. */
export function frontier(rows: ParetoRow[]): Set<ParetoRow> {
  const dominated = (r: ParetoRow) =>
    rows.some(
      (o) =>
        o !== r &&
        o.family === r.family &&
        o.kbPerImage <= r.kbPerImage &&
        o.cpuMsPerImage <= r.cpuMsPerImage &&
        o.psnr >= r.psnr - 0.05 &&
        (o.kbPerImage < r.kbPerImage || o.cpuMsPerImage < r.cpuMsPerImage || o.psnr > r.psnr + 0.05)
    )
  return new Set(rows.filter((r) => !dominated(r)))
}
