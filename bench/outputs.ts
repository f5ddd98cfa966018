/**
 * pnpm bench --outputs [--images N]: the CPU an output set costs per image. `web,amazon,google` made as one set
 * (one download, one decode, outputs derived from the pixels) against the same outputs made one request at a
 * time (web, amazon, google: three decodes), against each of the 11 outputs alone, and against the most expensive
 * single request. Measured in this process (process.cpuUsage counts libvips' threads), each image's runs side by
 * side so drift hits them alike. Goals (issue 27): ≤ 0.6× the sum of the requests, ≤ 1.3× the most expensive one.
 */
import { type ResolvedOutput, resolveOutputs } from '@imgproc/core'
import { makeOutputSet } from '@imgproc/media'
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

async function cpuMs(work: () => Promise<unknown>): Promise<number> {
  const start = process.cpuUsage()
  await work()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
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

export async function outputSetRun(n: number, results: Record<string, unknown>): Promise<Rows> {
  const set = outputs([...PRESETS])
  const totals = { together: 0, requests: 0, singles: 0, costliest: 0 }
  const perImage: Record<string, unknown> = {}
  for (const [name, input] of await images(n)) {
    const together = await cpuMs(() => makeOutputSet(input, set, MAX_PIXELS))
    const requests: number[] = []
    for (const preset of PRESETS) requests.push(await cpuMs(() => makeOutputSet(input, outputs([preset]), MAX_PIXELS)))
    let singles = 0
    for (const output of set) singles += await cpuMs(() => makeOutputSet(input, [output], MAX_PIXELS))
    const sum = requests.reduce((a, b) => a + b, 0)
    totals.together += together
    totals.requests += sum
    totals.singles += singles
    totals.costliest += Math.max(...requests)
    perImage[name] = { together, requests: Object.fromEntries(PRESETS.map((p, i) => [p, requests[i]])), singles }
    console.log(`outputs: ${name}: ${together.toFixed(0)} ms as one set, ${sum.toFixed(0)} ms as three requests`)
  }
  results.outputs = { images: n, cpuMs: totals, perImage }
  const per = (ms: number) => `${(ms / n).toFixed(0)} ms CPU per image`
  return [
    ['[outputs] web,amazon,google as one set', per(totals.together)],
    ['[outputs] as three requests (web, amazon, google)', per(totals.requests)],
    ['[outputs] as 11 requests of one output each', per(totals.singles)],
    ['[outputs] RATIO one set / three requests', `${(totals.together / totals.requests).toFixed(3)}  (target ≤ 0.6)`],
    ['[outputs] RATIO one set / 11 one-output requests', (totals.together / totals.singles).toFixed(3)],
    [
      '[outputs] RATIO one set / the costliest request',
      `${(totals.together / totals.costliest).toFixed(3)}  (target ≤ 1.3)`
    ]
  ]
}
