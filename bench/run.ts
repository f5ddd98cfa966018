/**
 * pnpm bench [--images N] [--catalogue web,jpeg,mixed] [--skip-pareto] [--large] [--spread] [--outputs]
 *
 * Side by side in one run, on the same images and encoder settings, for each catalogue ("web": 2,000 images of
 * 0.2–2 MP, JPEG/PNG/WebP; "jpeg": 2,000 JPEGs of 0.3–12 MP; "mixed": 300 images of 0.3–12 MP, JPEG/PNG;
 * --images N sets them all):
 *   ceiling    — compressImage() in-process over buffers already in memory, at the best of a sweep of images at
 *                once × libvips threads (chosen on a sample), run over all images before and after the
 *                end-to-end run and averaged;
 *   end to end — the real service (MongoDB + API + worker processes, bundled as production runs them): upload →
 *                Completed, over HTTP, the images fetched from a host in its own process (image-server.mjs), CPU
 *                and RSS counted over the API and worker process trees.
 * Prints the ratios the issue sets targets for: throughput, CPU per image, peak and idle RSS, status p99, upload
 * time, progress writes per image; then the encoder Pareto table (bytes, CPU, PSNR per image).
 * --large [--large-sizes 2000,10000]: requests of that many small images (worker RSS growth from the first to the
 *   last, upload time, writes per image).
 * --spread: one request of latency-bound images with 1 worker and with 3 (at several WORK_UNIT_SIZEs).
 * --outputs: the CPU of an output set (web,amazon,google) against its outputs made separately (outputs.ts).
 * --rerun: the web catalogue uploaded again with 5 % changed: worker CPU, bytes downloaded and wall time of the
 *          second run against the first (rerun.ts, docs/reuse.md).
 * --ingest [--rows N]: one upload of N generated rows (1,000,000): time to 202, API peak RSS, GET /status p99 of
 *   another request meanwhile (ingest.ts).
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_OPTIONS, loadConfig } from '@imgproc/core'
import sharp from 'sharp'
import { csvOf } from '../test/support/csv.ts'
import { CORPUS, ROOT } from '../test/support/paths.ts'
import { ceiling, grid, sweep } from './ceiling.ts'
import { buildCatalogue, buildWebCatalogue, type CatalogueImage } from './images.ts'
import { ingestRun } from './ingest.ts'
import { mb, sample } from './measure.ts'
import { outputSetRun } from './outputs.ts'
import { frontier, measure, type ParetoRow, variants } from './pareto.ts'
import { rerun } from './rerun.ts'
import { acceptLargestCsv, endToEnd, serve } from './service.ts'
import { spread } from './spread.ts'

const { values: args } = parseArgs({
  options: {
    images: { type: 'string' },
    catalogue: { type: 'string', default: 'web,jpeg' },
    'skip-pareto': { type: 'boolean', default: false },
    large: { type: 'boolean', default: false },
    spread: { type: 'boolean', default: false },
    outputs: { type: 'boolean', default: false },
    rerun: { type: 'boolean', default: false },
    ingest: { type: 'boolean', default: false },
    rows: { type: 'string', default: '1000000' },
    'large-sizes': { type: 'string', default: '2000,10000' },
    'unit-sizes': { type: 'string', default: '10,25,50,100' }
  }
})
const CORES = availableParallelism()

type Rows = Array<[string, string]>
const ratio = (value: number, target: string) => `${value.toFixed(3)}  (target ${target})`

/** One catalogue: the ceiling sweep on a sample, then ceiling — end to end — ceiling over all of it. */
type Catalogue = 'web' | 'jpeg' | 'mixed'

async function catalogueRun(kind: Catalogue, n: number, results: Record<string, unknown>): Promise<Rows> {
  const dir = path.join(ROOT, 'bench/.cache', `${kind}-n${n}`)
  process.stdout.write(`${kind}: building ${n} catalogue images… `)
  const catalogue: CatalogueImage[] =
    kind === 'web'
      ? await buildWebCatalogue(CORPUS, dir, n)
      : await buildCatalogue(CORPUS, dir, n, { jpegOnly: kind === 'jpeg' })
  const files = new Map(
    await Promise.all(catalogue.map(async (c) => [c.name, await readFile(path.join(dir, c.name))] as const))
  )
  const buffers = [...files.values()]
  const bytesIn = buffers.reduce((s, b) => s + b.length, 0)
  const megapixels = catalogue.reduce((s, c) => s + c.megapixels, 0) / n
  // The sweep runs on a sample with the catalogue's mix (whole catalogue when small), to keep the bench short.
  const sweepSet = sample(buffers, kind === 'web' ? 120 : 30)
  process.stdout.write(`sweeping the ceiling on ${sweepSet.length}… `)
  const swept = await sweep(sweepSet, DEFAULT_OPTIONS, grid(CORES))
  const best = swept[0]!
  console.log(`best: ${best.concurrency} at once × ${best.threads} thread(s)`)
  const server = await serve(dir)
  try {
    // Ceiling before and after the end-to-end run (A-B-A): on a shared machine the speed drifts between
    // runs, and the mean of the two brackets cancels a linear drift; their spread shows how noisy it was.
    const before = await ceiling(buffers, DEFAULT_OPTIONS, best)
    const csv = csvOf(catalogue.map((c, i) => [i + 1, `SKU${i + 1}`, [`${server.url}/${c.name}`]]))
    const e2e = await endToEnd(csv, {}, server)
    const after = await ceiling(buffers, DEFAULT_OPTIONS, best)
    const ceilRate = (before.imagesPerSecond + after.imagesPerSecond) / 2
    const ceilCpu = (before.cpuSeconds + after.cpuSeconds) / 2
    const rate = n / e2e.seconds
    const peak = e2e.peakRssMb
    // What the service costs per image, as an outsider counts it: both process trees, against the codec alone.
    const serviceCpu = e2e.cpu.worker + e2e.cpu.api
    const idle = e2e.idle.workerRssMb + e2e.idle.apiRssMb
    const config = loadConfig({})
    Object.assign(results, {
      [kind]: {
        images: n,
        bytesIn,
        megapixels,
        sweep: swept.map(({ concurrency, threads, imagesPerSecond, cpuSeconds }) => ({
          concurrency,
          threads,
          imagesPerSecond,
          cpuSeconds
        })),
        ceiling: { before, after, imagesPerSecond: ceilRate, cpuSeconds: ceilCpu },
        endToEnd: {
          ...e2e,
          status: undefined,
          imagesPerSecond: rate,
          totals: e2e.status.totals,
          counts: e2e.status.counts
        },
        ratios: { throughput: rate / ceilRate, cpuPerImage: serviceCpu / ceilCpu, peakRssMb: peak, idleRssMb: idle }
      }
    })
    const sweepText = swept.map((r) => `${r.concurrency}×${r.threads}: ${r.imagesPerSecond.toFixed(1)}`).join(', ')
    return [
      [`[${kind}] images`, `${n}, ${mb(bytesIn).toFixed(1)} MB, mean ${megapixels.toFixed(2)} MP`],
      [`[${kind}] ceiling sweep (at once × threads: images/s)`, sweepText],
      [
        `[${kind}] ceiling at ${best.concurrency}×${best.threads} (before, after)`,
        `${ceilRate.toFixed(2)} images/s (${before.imagesPerSecond.toFixed(2)}, ${after.imagesPerSecond.toFixed(2)})`
      ],
      [
        `[${kind}] end to end (WORKER_CONCURRENCY=${config.WORKER_CONCURRENCY}, SHARP_CONCURRENCY=${config.SHARP_CONCURRENCY})`,
        `${rate.toFixed(2)} images/s`
      ],
      [`[${kind}] RATIO throughput end-to-end / ceiling`, ratio(rate / ceilRate, '≥ 0.90')],
      [
        `[${kind}] RATIO CPU per image API + worker trees / ceiling`,
        ratio(serviceCpu / ceilCpu, '≤ 1.10') +
          `: ${((1000 * serviceCpu) / n).toFixed(1)} vs ${((1000 * ceilCpu) / n).toFixed(1)} ms`
      ],
      [
        `[${kind}] peak RSS API + worker trees, sampled together`,
        `${peak.toFixed(0)} MB (each at its own peak: ${e2e.apiPeakRssMb.toFixed(0)} + ${e2e.workerPeakRssMb.toFixed(0)})  (target ≤ 400 MB)`
      ],
      [
        `[${kind}] idle RSS API + worker, 10 s after start`,
        `${idle.toFixed(0)} MB (${e2e.idle.apiRssMb.toFixed(0)} + ${e2e.idle.workerRssMb.toFixed(0)}); PSS together ${e2e.idle.pssMb.toFixed(0)} MB  (target ≤ 150 MB)`
      ],
      [
        `[${kind}] idle RSS API + worker, 2 s after start`,
        `${(e2e.idle.justStarted.apiRssMb + e2e.idle.justStarted.workerRssMb).toFixed(0)} MB (${e2e.idle.justStarted.apiRssMb.toFixed(0)} + ${e2e.idle.justStarted.workerRssMb.toFixed(0)})`
      ],
      [
        `[${kind}] MB in → out (savings)`,
        `${mb(bytesIn).toFixed(1)} → ${mb(e2e.status.totals.bytes_out).toFixed(1)} (${e2e.status.totals.savings_pct}%)`
      ],
      [`[${kind}] completed / failed`, `${e2e.status.counts.succeeded} / ${e2e.status.counts.failed}`],
      [`[${kind}] upload answered in`, `${e2e.uploadMs.toFixed(0)} ms`],
      [
        `[${kind}] GET /status p50 / p99 under load`,
        `${e2e.statusP50.toFixed(1)} / ${e2e.statusP99.toFixed(1)} ms (${e2e.statusSamples} samples)  (target p99 ≤ 50 ms)`
      ],
      [
        `[${kind}] CPU s worker / API / DB / image host / bench`,
        `${e2e.cpu.worker.toFixed(1)} / ${e2e.cpu.api.toFixed(1)} / ${e2e.cpu.db.toFixed(1)} / ${e2e.cpu.images.toFixed(1)} / ${e2e.cpu.bench.toFixed(1)} (of ${(e2e.seconds * CORES).toFixed(1)} = wall × cores)`
      ],
      [
        `[${kind}] machine CPU busy: ceiling before / end to end / after`,
        `${before.busyPct.toFixed(0)}% / ${e2e.machineBusyPct.toFixed(0)}% / ${after.busyPct.toFixed(0)}%`
      ],
      [
        `[${kind}] updates to MongoDB (progress, heartbeats, claims)`,
        `${e2e.progressWrites} for ${n} images (${(e2e.progressWrites / n).toFixed(3)} per image)`
      ]
    ]
  } finally {
    server.close()
  }
}

/** The encoder table on the web catalogue's images: each family over the same inputs, CPU at one thread per image. */
async function paretoRun(n: number, results: Record<string, unknown>): Promise<Rows> {
  const dir = path.join(ROOT, 'bench/.cache', `web-n${n}`)
  const catalogue = await buildWebCatalogue(CORPUS, dir, n)
  const load = (images: CatalogueImage[]) => Promise.all(images.map((c) => readFile(path.join(dir, c.name))))
  const small = n < 100
  const jpegs = await load(
    sample(
      catalogue.filter((c) => c.name.endsWith('.jpg')),
      small ? 8 : 150
    )
  )
  const webps = await load(sample(catalogue, small ? 6 : 60))
  const avifs = await load(sample(catalogue, small ? 4 : 24))
  process.stdout.write('encoder table… ')
  const rows: ParetoRow[] = []
  const quality = DEFAULT_OPTIONS.quality as number // the service's default is a fixed quality (50)
  for (const v of variants(quality))
    rows.push(await measure(v, v.family === 'JPEG' ? jpegs : v.family === 'WebP' ? webps : avifs, CORES))
  console.log('done')
  const onFrontier = frontier(rows)
  results.pareto = rows.map((r) => ({ ...r, frontier: onFrontier.has(r) }))
  const base = (family: string) => rows.find((r) => r.family === family)!
  return rows.map((r): [string, string] => [
    `[encoder q${DEFAULT_OPTIONS.quality}] ${r.family} ${r.name}`,
    `${r.kbPerImage.toFixed(1)} KB (${(r.kbPerImage / base(r.family).kbPerImage).toFixed(3)}×), ${r.cpuMsPerImage.toFixed(1)} ms CPU (${(r.cpuMsPerImage / base(r.family).cpuMsPerImage).toFixed(2)}×), ${r.psnr.toFixed(2)} dB, n=${r.images}${onFrontier.has(r) ? '  ◆ frontier' : ''}`
  ])
}

/** Requests of small images (2,000 and 10,000 by default): worker memory must not grow with the request. */
async function largeRun(results: Record<string, unknown>, sizes: number[]): Promise<Rows> {
  const dir = path.join(ROOT, 'bench/.cache', 'tiny')
  await mkdir(dir, { recursive: true })
  await sharp(path.join(CORPUS, 'rocket.jpg')).resize(48, 32).jpeg({ quality: 80 }).toFile(path.join(dir, 'tiny.jpg'))
  const server = await serve(dir)
  // Distinct URLs (query string) of one small image: the request's size is real, the compression cheap. Every
  // image is made (reuse=false): with reuse, all but the first would be the same content, not what this measures.
  const csvFor = (n: number) =>
    csvOf(
      Array.from({ length: n }, (_, i) => [
        i + 1,
        `Product with a realistic name ${i + 1}`,
        [`${server.url}/tiny.jpg?sku=${i + 1}&n=${n}`]
      ])
    )
  try {
    const rows: Rows = []
    const runs: Record<number, Awaited<ReturnType<typeof endToEnd>>> = {}
    for (const n of sizes) {
      const csv = csvFor(n)
      const e2e = await endToEnd(csv, { MAX_IMAGES_PER_REQUEST: String(n) }, undefined, { reuse: 'false' })
      runs[n] = e2e
      rows.push(
        [
          `[large ${n}] CSV`,
          `${mb(csv.length).toFixed(2)} MB, upload answered in ${e2e.uploadMs.toFixed(0)} ms${n === 10_000 ? '  (target ≤ 1000 ms)' : ''}`
        ],
        [
          `[large ${n}] end to end`,
          `${e2e.seconds.toFixed(1)} s (${(n / e2e.seconds).toFixed(0)} images/s), ${e2e.status.counts.succeeded} / ${e2e.status.counts.failed} completed / failed`
        ],
        [
          `[large ${n}] GET /status p50 / p99 under load`,
          `${e2e.statusP50.toFixed(1)} / ${e2e.statusP99.toFixed(1)} ms (${e2e.statusSamples} samples)`
        ],
        [`[large ${n}] peak RSS worker / API`, `${e2e.workerPeakRssMb.toFixed(0)} / ${e2e.apiPeakRssMb.toFixed(0)} MB`],
        [`[large ${n}] updates to MongoDB`, `${e2e.progressWrites} (${(e2e.progressWrites / n).toFixed(4)} per image)`]
      )
    }
    const [first, last] = [sizes[0]!, sizes[sizes.length - 1]!]
    const growth = runs[last]!.workerPeakRssMb / runs[first]!.workerPeakRssMb
    rows.push([`[large] RATIO worker peak RSS ${last} / ${first} images`, ratio(growth, '≤ 1.10')])
    const biggest = await acceptLargestCsv()
    rows.push([
      '[large] 10 MB CSV (10,000 rows, 1 KB URLs)',
      `HTTP ${biggest.status} in ${biggest.uploadMs.toFixed(0)} ms, API peak RSS ${biggest.apiPeakRssMb.toFixed(0)} MB`
    ])
    results.large = {
      runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { ...v, status: undefined }])),
      workerRssGrowth: growth,
      largestCsv: biggest
    }
    return rows
  } finally {
    server.close()
  }
}

async function main() {
  // Measure what production runs: the bundle under plain node (tsx adds ~35 MB and start-up work).
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/bundle/build.mjs'), 'api', 'worker'], {
    cwd: ROOT,
    stdio: 'inherit'
  })
  process.env.IMGPROC_RUN_FROM = 'dist'
  const loadAverage = () => readFile('/proc/loadavg', 'utf8').then((s) => s.split(' ').slice(0, 3).join(' '))
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    cpus: CORES,
    loadAverageAtStart: await loadAverage()
  }
  const rows: Rows = [['machine', `${CORES} cores, load average at start ${results.loadAverageAtStart}`]]
  const webN = args.images ? Number(args.images) : 2_000
  if (args.rerun) rows.push(...(await rerun(webN, results)))
  else if (args.ingest) rows.push(...(await ingestRun(Number(args.rows), results)))
  else if (args.outputs) rows.push(...(await outputSetRun(args.images ? Number(args.images) : 7, results)))
  else if (args.spread) rows.push(...(await spread(results, args['unit-sizes']!.split(',').map(Number))))
  else if (args.large) rows.push(...(await largeRun(results, args['large-sizes']!.split(',').map(Number))))
  else {
    const sizes: Record<Catalogue, number> = { web: webN, jpeg: webN, mixed: args.images ? Number(args.images) : 300 }
    for (const kind of args.catalogue!.split(',') as Catalogue[]) {
      if (!(kind in sizes)) throw new Error(`--catalogue takes web, jpeg and mixed, comma-separated (got ${kind})`)
      rows.push(...(await catalogueRun(kind, sizes[kind], results)))
    }
    if (!args['skip-pareto']) rows.push(...(await paretoRun(webN, results)))
  }
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true })
  const file = path.join(
    ROOT,
    'bench/results',
    `${new Date().toISOString().replace(/[:.]/g, '-')}${args.rerun ? '-rerun' : args.ingest ? '-ingest' : args.large ? '-large' : args.spread ? '-spread' : args.outputs ? '-outputs' : ''}.json`
  )
  await writeFile(file, JSON.stringify(results, null, 2))
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log(`\n${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}`)
  console.log(`\nresults: ${path.relative(ROOT, file)}`)
}

await main()
