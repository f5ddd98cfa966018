/**
 * pnpm exec tsx --conditions=imgproc-source bench/quality.ts [--formats jpeg,webp,avif] [--levels auto:eco,auto:good,auto:high]
 *
 * quality=auto against fixed qualities, on the corpus photos, one image at a time with the worker's sharp
 * concurrency (1), so CPU time per image compares like for like:
 *   - CPU per image of auto against fixed q50 (goal ≤ 2.5×), and of what auto cannot cost less than: the same
 *     decode and one full-size confirmation at the quality and setting auto delivered, with no search;
 *   - bytes of auto against the smallest uniform quality that keeps every image at the same floor (goal ≤ 0.7×),
 *     and against q50, with the SSIMULACRA2 of what is delivered (whole image, our port: ±0.15 of the reference).
 * Writes bench/results/quality-<date>.json (per photo too) and prints the figures docs/quality.md's "Results" quotes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import {
  type AutoLevel,
  DEFAULT_OPTIONS,
  type EncodeFormat,
  type ProcessingOptions,
  QUALITY_FLOORS
} from '@imgproc/core'
import {
  compressImage,
  decodeFlat,
  encodeAs,
  flatRgb,
  flattenRaw,
  fullSizeScorer,
  fullSizeScoring,
  type RawImage,
  rawInput
} from '@imgproc/media'
import { type RgbImage, ssimulacra2 } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import { CORPUS, ROOT } from '../test/support/paths.ts'

const PHOTOS = [
  '2569067123_aca715a2ee_o.jpg',
  'flowers.jpeg',
  'astronaut.png',
  'coffee.png',
  'chelsea.png',
  'rocket.jpg',
  '4.webp',
  'sdr_cosmos12920_cicp1-13-6_yuv444_full_qp10.avif',
  'Landscape_1.jpg',
  'alpha-premultiply-2048x1536-paper.png',
  'Channel_digital_image_CMYK_color.jpg'
]
const MAX_PIXELS = 100_000_000

const { values: args } = parseArgs({
  options: {
    formats: { type: 'string', default: 'jpeg' },
    levels: { type: 'string', default: Object.keys(QUALITY_FLOORS).join(',') }
  }
})
const formats = args.formats!.split(',') as Array<ProcessingOptions['format']>
const levels = args.levels!.split(',') as AutoLevel[]

/** With --expose-gc (the package script passes it): the bench's own garbage is collected before timing. */
const gc = (globalThis as { gc?: () => void }).gc
const cpuMs = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from)
  return (u.user + u.system) / 1000
}

const flat = (image: Buffer | sharp.Sharp): Promise<RgbImage> => flatRgb(Buffer.isBuffer(image) ? sharp(image) : image)

/**
 * One full-size confirmation of a quality already known, made as the search makes its full-size trials (the
 * reference prepared, the output encoded with auto's setting or the alternative, decoded, and scored whole or
 * sampled), with no search before it: the least quality=auto can cost with its confirmation.
 */
async function confirmKnownQuality(
  raw: RawImage,
  format: EncodeFormat,
  quality: number,
  alternative: boolean
): Promise<{ data: Buffer; score: number }> {
  const { sampled } = fullSizeScoring(raw.width, raw.height, raw.channels, 0)
  const scorer = fullSizeScorer(await flattenRaw(sharp, raw), sampled)
  try {
    const setting = alternative ? 'alternative' : 'auto'
    const encoding = { format, quality, mozjpeg: DEFAULT_OPTIONS.mozjpeg, setting } as const
    const data = await encodeAs(rawInput(sharp, raw), encoding).toBuffer()
    return { data, score: scorer(await decodeFlat(sharp, data), quality) }
  } finally {
    scorer.release()
  }
}

interface Run {
  bytes: number
  score: number
  cpuMs: number
  quality?: number
}

async function main() {
  sharp.concurrency(1) // the worker's setting
  const inputs = await Promise.all(
    PHOTOS.map(async (name) => ({ name, data: await readFile(path.join(CORPUS, name)) }))
  )
  const results: Record<string, unknown> = { date: new Date().toISOString(), images: PHOTOS }
  const lines: string[] = []
  for (const format of formats) {
    // The pipeline's reference for each image: oriented, 8-bit sRGB, flattened on white.
    const references = await Promise.all(
      inputs.map(async (i) => {
        const raw = await sharp(i.data)
          .rotate()
          .toColourspace('srgb')
          .raw({ depth: 'uchar' })
          .toBuffer({ resolveWithObject: true })
        return flat(
          sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } })
        )
      })
    )
    // Fixed-quality outputs and their scores, memoised: the uniform-quality search asks for many.
    const fixedCache = new Map<string, Run>()
    const fixed = async (i: number, quality: number): Promise<Run> => {
      const key = `${i}:${quality}`
      if (!fixedCache.has(key)) {
        const c0 = process.cpuUsage()
        const out = await compressImage(inputs[i]!.data, { ...DEFAULT_OPTIONS, format, quality }, MAX_PIXELS)
        const cpu = cpuMs(c0)
        fixedCache.set(key, {
          bytes: out.data.length,
          score: ssimulacra2(references[i]!, await flat(out.data)),
          cpuMs: cpu
        })
      }
      return fixedCache.get(key)!
    }
    /** The smallest quality at which image i reaches the floor (bisection; scores rise with quality). */
    const minimalQuality = async (i: number, floor: number) => {
      let lo = 1,
        hi = 100
      if ((await fixed(i, hi)).score < floor) return 100
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1
        if ((await fixed(i, mid)).score >= floor) hi = mid
        else lo = mid
      }
      return (await fixed(i, lo)).score >= floor ? lo : hi
    }

    const q50 = await Promise.all(inputs.map((_, i) => fixed(i, 50)))
    for (const level of levels) {
      const floor = QUALITY_FLOORS[level]
      // CPU of fixed q50, then of auto, each over the images back to back as a worker runs them, measured again
      // for each level so both run under about the same load (this machine is shared). The bench's own
      // whole-image scores leave hundreds of MB of garbage that no worker makes: it is collected before each
      // timed block, not during it. The delivered outputs are scored after.
      const timed = async (quality: ProcessingOptions['quality']) => {
        gc?.()
        const runs: Array<{ data: Buffer; cpuMs: number; quality?: number; alternative?: boolean }> = []
        for (const input of inputs) {
          const c0 = process.cpuUsage()
          const out = await compressImage(input.data, { ...DEFAULT_OPTIONS, format, quality }, MAX_PIXELS)
          runs.push({
            data: out.data,
            cpuMs: cpuMs(c0),
            quality: out.stats.quality,
            alternative: out.auto?.alternative
          })
        }
        return runs
      }
      const q50Cpu = (await timed(50)).map((r) => r.cpuMs)
      const outputs = await timed(level)
      // The least auto can cost while it confirms at full size as it does: the pipeline's decode (as
      // compressImage decodes for auto), then one full-size trial at the quality and setting it delivered
      // (reference prepared, encoded, decoded, scored whole or sampled), with no search before it.
      gc?.()
      const confirmCpu: number[] = []
      for (const [i, input] of inputs.entries()) {
        const c0 = process.cpuUsage()
        let pipeline = sharp(input.data, { limitInputPixels: MAX_PIXELS, failOn: 'error', sequentialRead: true })
          .rotate()
          .toColourspace('srgb')
        if (format === 'jpeg') pipeline = pipeline.flatten({ background: '#ffffff' })
        const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
        const raw: RawImage = {
          data,
          width: info.width,
          height: info.height,
          channels: info.channels as RawImage['channels']
        }
        await confirmKnownQuality(raw, format as EncodeFormat, outputs[i]!.quality!, outputs[i]!.alternative!)
        confirmCpu.push(cpuMs(c0))
      }
      const auto: Run[] = []
      for (const [i, out] of outputs.entries())
        auto.push({
          bytes: out.data.length,
          score: ssimulacra2(references[i]!, await flat(out.data)),
          cpuMs: out.cpuMs,
          quality: out.quality
        })
      const perImage = await Promise.all(inputs.map((_, i) => minimalQuality(i, floor)))
      const uniformQuality = Math.max(...perImage)
      const uniform = await Promise.all(inputs.map((_, i) => fixed(i, uniformQuality)))
      // What a perfect search would deliver: each image at its own minimal quality (whole-image scores).
      const oracle = await Promise.all(perImage.map((q, i) => fixed(i, q)))
      const sum = (runs: Run[], k: 'bytes' | 'cpuMs') => runs.reduce((s, r) => s + r[k], 0)
      const stats = (runs: Run[]) => {
        const s = runs.map((r) => r.score).sort((a, b) => a - b)
        return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, below: s.filter((x) => x < floor).length }
      }
      const row = {
        format,
        level,
        floor,
        images: inputs.length,
        auto: {
          bytes: sum(auto, 'bytes'),
          cpuMs: sum(auto, 'cpuMs'),
          ...stats(auto),
          qualities: auto.map((r) => r.quality),
          // Per photo, so two runs can be compared output by output.
          perImage: auto.map((r, i) => ({
            image: PHOTOS[i],
            quality: r.quality,
            alternative: outputs[i]!.alternative,
            bytes: r.bytes,
            score: r.score
          }))
        },
        q50: { bytes: sum(q50, 'bytes'), cpuMs: q50Cpu.reduce((a, b) => a + b, 0), ...stats(q50) },
        confirmation: { cpuMs: confirmCpu.reduce((a, b) => a + b, 0) },
        uniform: {
          quality: uniformQuality,
          bytes: sum(uniform, 'bytes'),
          ...stats(uniform),
          perImageMinimal: perImage
        },
        oracle: { bytes: sum(oracle, 'bytes') }
      }
      results[`${format} ${level}`] = row
      const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`
      lines.push(
        `${format} ${level} (≥ ${floor}), ${inputs.length} photos:`,
        `  auto      ${kb(row.auto.bytes).padStart(8)}  score min ${row.auto.min.toFixed(1)} / median ${row.auto.median.toFixed(1)}, ${row.auto.below} below  qualities ${Math.min(...row.auto.qualities.map(Number))}–${Math.max(...row.auto.qualities.map(Number))}`,
        `  q50       ${kb(row.q50.bytes).padStart(8)}  score min ${row.q50.min.toFixed(1)} / median ${row.q50.median.toFixed(1)}, ${row.q50.below} below   auto/q50 bytes ${(row.auto.bytes / row.q50.bytes).toFixed(2)}×`,
        `  uniform q${uniformQuality}${' '.repeat(3 - String(uniformQuality).length)} ${kb(row.uniform.bytes).padStart(8)}  score min ${row.uniform.min.toFixed(1)} / median ${row.uniform.median.toFixed(1)}   auto/uniform bytes ${(row.auto.bytes / row.uniform.bytes).toFixed(2)}× (goal ≤ 0.7×)`,
        `  per-image minimal quality (a perfect search) ${kb(row.oracle.bytes)}: ${(row.oracle.bytes / row.uniform.bytes).toFixed(2)}× uniform; auto ${(row.auto.bytes / row.oracle.bytes).toFixed(2)}× of it`,
        `  CPU per image: auto ${(row.auto.cpuMs / inputs.length).toFixed(0)} ms, q50 ${(row.q50.cpuMs / inputs.length).toFixed(0)} ms: ${(row.auto.cpuMs / row.q50.cpuMs).toFixed(2)}× (goal ≤ 2.5×)`,
        `  CPU per image of one confirmation at auto's quality, no search (the least auto can cost): ${(row.confirmation.cpuMs / inputs.length).toFixed(0)} ms, ${(row.confirmation.cpuMs / row.q50.cpuMs).toFixed(2)}× q50`
      )
      console.log(lines.slice(-7).join('\n'))
    }
  }
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true })
  const file = path.join(ROOT, 'bench/results', `quality-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  await writeFile(file, JSON.stringify(results, null, 2))
  console.log(`\nresults: ${path.relative(ROOT, file)}`)
}

await main()
