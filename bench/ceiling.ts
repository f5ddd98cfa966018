import type { ProcessingOptions } from '@imgproc/core'
import { compressImage } from '@imgproc/media'
import pLimit from 'p-limit'
import sharp from 'sharp'
import { busyPct, machineTicks, ownCpuSeconds } from './measure.ts'

export interface Setting {
  /** Images compressed at once. */
  concurrency: number
  /** libvips worker threads per image (sharp.concurrency). */
  threads: number
}

export interface CeilingRun extends Setting {
  seconds: number
  imagesPerSecond: number
  cpuSeconds: number
  busyPct: number
  bytesOut: number
}

/** compressImage() in-process over buffers already in memory: the codec with nothing around it. */
export async function ceiling(
  buffers: Buffer[],
  options: ProcessingOptions,
  setting: Setting,
  maxPixels = 100_000_000
): Promise<CeilingRun> {
  sharp.concurrency(setting.threads)
  const limit = pLimit(setting.concurrency)
  const ticks = machineTicks()
  const cpu0 = process.cpuUsage()
  const started = performance.now()
  const results = await Promise.all(buffers.map((b) => limit(() => compressImage(b, options, maxPixels))))
  const seconds = (performance.now() - started) / 1000
  return {
    ...setting,
    seconds,
    imagesPerSecond: buffers.length / seconds,
    cpuSeconds: ownCpuSeconds(cpu0),
    busyPct: busyPct(ticks),
    bytesOut: results.reduce((s, r) => s + r.data.length, 0)
  }
}

/** The grid the ceiling is the best of: 1 to 4× the cores images at once, with 1 libvips thread or one per core. */
export function grid(cores: number): Setting[] {
  const concurrencies = [...new Set([1, cores, 2 * cores, 4 * cores])]
  const threads = [...new Set([1, cores])]
  return concurrencies.flatMap((concurrency) => threads.map((t) => ({ concurrency, threads: t })))
}

/**
 * Every setting of the grid over the same sample (after one warm-up pass), best first. The codec's limit is the
 * best of them, not the worker's own setting: otherwise a badly tuned worker would also lower its own yardstick.
 */
export async function sweep(buffers: Buffer[], options: ProcessingOptions, settings: Setting[]): Promise<CeilingRun[]> {
  await ceiling(buffers.slice(0, Math.min(buffers.length, 10)), options, settings[0]!) // load libvips, warm the allocator
  const runs: CeilingRun[] = []
  for (const setting of settings) runs.push(await ceiling(buffers, options, setting))
  return runs.sort((a, b) => b.imagesPerSecond - a.imagesPerSecond)
}
