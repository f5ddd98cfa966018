/**
 * node --expose-gc --conditions=imgproc-source --import tsx bench/metric.ts [image...]
 *
 * CPU of the SSIMULACRA2 port per pixel, in the same run: the TypeScript kernels, the WebAssembly ones fed
 * linear planes converted in TypeScript, and the search's way (8-bit pixels converted inside WebAssembly, only
 * the weighted channels): preparing a reference and one trial (a JPEG q50 of it), median of 5 trials. Then the
 * process's RSS after scoring with the WebAssembly kernels and after a GC.
 */
import path from 'node:path'
import { flatRgb } from '@imgproc/media'
import { prepareReference, scaleCount, sumsAgainst, toLinear, weightedChannels } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import { prepareReferenceJs, sumsAgainstJs } from '../packages/ssimulacra2/test/ssimulacra2-js.ts'
import { CORPUS } from '../test/support/paths.ts'

const images = process.argv.slice(2).length ? process.argv.slice(2) : ['astronaut.png', '2569067123_aca715a2ee_o.jpg']
const TRIALS = 5

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

for (const name of images) {
  const reference = await flatRgb(sharp(path.join(CORPUS, name)).rotate())
  const distorted = await flatRgb(
    sharp(
      await sharp(reference.data, { raw: { width: reference.width, height: reference.height, channels: 3 } })
        .jpeg({ quality: 50 })
        .toBuffer()
    )
  )
  const pixels = reference.width * reference.height
  const usPerPixel = (ms: number) => ((ms * 1000) / pixels).toFixed(4)
  // CPU time, not wall time: the figures hold on a machine shared with other work.
  const time = (run: () => unknown) => {
    const t0 = process.cpuUsage()
    run()
    const t = process.cpuUsage(t0)
    return (t.user + t.system) / 1000
  }
  // Each kernel's own reference type: measured through one generic helper.
  const measure = <P>(prepare: (scales: number) => P, trial: (prepared: P) => unknown) => {
    prepare(1) // warm-up of the code paths
    let prepared: P | undefined
    const prepareMs = time(() => {
      prepared = prepare(6)
    })
    const trialMs = median(Array.from({ length: TRIALS }, () => time(() => trial(prepared!))))
    return { prepareMs, trialMs }
  }
  const kernels = {
    js: () =>
      measure(
        (s) => prepareReferenceJs(toLinear(reference), s),
        (p) => sumsAgainstJs(p, toLinear(distorted))
      ),
    wasm: () =>
      measure(
        (s) => prepareReference(toLinear(reference), s),
        (p) => sumsAgainst(p, toLinear(distorted))
      ),
    search: () =>
      measure(
        (s) => prepareReference(reference, s, weightedChannels(scaleCount(reference.width, reference.height))),
        (p) => sumsAgainst(p, distorted)
      )
  }
  console.log(`${name}: ${reference.width}×${reference.height} (${(pixels / 1e6).toFixed(2)} MP)`)
  for (const [kind, run] of Object.entries(kernels)) {
    const { prepareMs: prepare, trialMs: trials } = run()
    console.log(
      `  ${kind.padEnd(6)}  prepare ${usPerPixel(prepare)} µs/px (${prepare.toFixed(0)} ms)  trial ${usPerPixel(trials)} µs/px (${trials.toFixed(0)} ms)`
    )
  }
}
if (globalThis.gc) {
  const before = process.memoryUsage().rss
  const scored = (() => {
    const last = images.at(-1)!
    return flatRgb(sharp(path.join(CORPUS, last)).rotate()).then((img) => {
      const p = prepareReference(img, 6)
      sumsAgainst(p, img)
      return process.memoryUsage().rss
    })
  })()
  const peak = await scored
  globalThis.gc()
  await new Promise((r) => setTimeout(r, 100))
  globalThis.gc()
  console.log(
    `RSS: ${mb(before)} before, ${mb(peak)} while a ${images.at(-1)} reference is held, ${mb(process.memoryUsage().rss)} after it is dropped and a GC`
  )
}
