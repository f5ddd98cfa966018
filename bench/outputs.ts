/**
 * pnpm bench --outputs [--images N]: the CPU an output set costs per image. `web,amazon,google` made as one set
 * (one download, one decode, outputs derived from the pixels, searches sharing their work) against each of its
 * 11 outputs made alone, one request at a time, and against the costliest of those single outputs. Measured in
 * this process (process.cpuUsage counts libvips' threads), each image's runs side by side so drift hits them
 * alike. Goals (issue 27): ≤ 0.6× the sum of the single outputs, ≤ 1.3× the costliest one. Also the bytes the
 * set delivers against the same outputs made alone, and any output of the set scoring below its floor.
 */
import { parseQuality, type ResolvedOutput, resolveOutputs } from '@imgproc/core'
import { type MadeOutput, makeOutputSet } from '@imgproc/media'
import {
  busyPhoto,
  cmykJpeg,
  corpusFile,
  productOnOffWhite,
  smallProduct,
  transparentProduct
} from '../packages/media/test/product-images.ts'

type Rows = Array<[string, string]>
const MAX_PIXELS = 100_000_000
const PRESETS = ['web', 'amazon', 'google'] as const

function outputs(items: string[]): ResolvedOutput[] {
  const read = resolveOutputs(items)
  if (!read.ok) throw new Error(read.problem)
  return read.value
}

async function cpuMs<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = process.cpuUsage()
  const result = await work()
  const used = process.cpuUsage(start)
  return [(used.user + used.system) / 1000, result]
}

/** The test images of docs/outputs.md, then corpus photos, up to `n`. */
async function images(n: number): Promise<Array<[string, Buffer]>> {
  const all: Array<[string, () => Buffer | Promise<Buffer>]> = [
    ['product on off-white', productOnOffWhite],
    ['transparent PNG', transparentProduct],
    ['CMYK JPEG', cmykJpeg],
    ['420 px product', smallProduct],
    ['busy photograph', busyPhoto],
    ['flowers.jpeg', () => corpusFile('flowers.jpeg')],
    ['rocket.jpg', () => corpusFile('rocket.jpg')]
  ]
  return Promise.all(all.slice(0, n).map(async ([name, make]) => [name, await make()] as [string, Buffer]))
}

/** An auto output scoring below its floor (a scored one: unscored outputs have no score to hold). */
function missed(made: MadeOutput): boolean {
  const quality = parseQuality(made.output.quality)
  return quality.kind === 'auto' && made.score !== undefined && made.score < quality.floor
}

export async function outputSetRun(n: number, results: Record<string, unknown>): Promise<Rows> {
  const set = outputs([...PRESETS])
  const totals = { together: 0, singles: 0, costliest: 0, setBytes: 0, singleBytes: 0, setMissed: 0, singleMissed: 0 }
  const costliest: Record<string, number> = {}
  const perImage: Record<string, unknown> = {}
  for (const [name, input] of await images(n)) {
    const [together, made] = await cpuMs(() => makeOutputSet(input, set, MAX_PIXELS))
    const singles: Record<string, { ms: number; bytes: number }> = {}
    for (const output of set) {
      const [ms, alone] = await cpuMs(() => makeOutputSet(input, [output], MAX_PIXELS))
      singles[output.name] = { ms, bytes: alone.outputs[0]!.data.length }
      totals.singleBytes += alone.outputs[0]!.data.length
      if (missed(alone.outputs[0]!)) totals.singleMissed++
    }
    const [dearest, { ms: dearestMs }] = Object.entries(singles).reduce((a, b) => (b[1].ms > a[1].ms ? b : a))
    const sum = Object.values(singles).reduce((s, x) => s + x.ms, 0)
    totals.together += together
    totals.singles += sum
    totals.costliest += dearestMs
    costliest[dearest] = (costliest[dearest] ?? 0) + 1
    totals.setBytes += made.outputs.reduce((s, o) => s + o.data.length, 0)
    totals.setMissed += made.outputs.filter(missed).length
    perImage[name] = { together, singles, setBytes: made.outputs.map((o) => [o.output.name, o.data.length]) }
    console.log(
      `outputs: ${name}: ${together.toFixed(0)} ms as one set, ${sum.toFixed(0)} ms as 11 outputs, ` +
        `${dearestMs.toFixed(0)} ms the costliest (${dearest})`
    )
  }
  results.outputs = { images: n, cpuMs: totals, costliest, perImage }
  const per = (ms: number) => `${(ms / n).toFixed(0)} ms CPU per image`
  const costliestNames = Object.entries(costliest)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ')
  return [
    ['[outputs] web,amazon,google as one set', per(totals.together)],
    ['[outputs] the 11 outputs one request at a time', per(totals.singles)],
    ['[outputs] the costliest single output', `${per(totals.costliest)} (${costliestNames})`],
    [
      '[outputs] RATIO one set / the 11 single outputs',
      `${(totals.together / totals.singles).toFixed(3)}  (goal ≤ 0.6)`
    ],
    [
      '[outputs] RATIO one set / the costliest single output',
      `${(totals.together / totals.costliest).toFixed(3)}  (goal ≤ 1.3)`
    ],
    ['[outputs] bytes of the set / the same outputs made alone', (totals.setBytes / totals.singleBytes).toFixed(4)],
    ['[outputs] outputs below their floor (set / alone)', `${totals.setMissed} / ${totals.singleMissed}`]
  ]
}
