/**
 * pnpm bench [--images N] [--large] [--spread]
 *
 * Side by side in one run, on the same images and settings:
 *   ceiling    — compressImage() in-process over buffers already in memory, with the worker's concurrency,
 *                run before and after the end-to-end run and averaged;
 *   end to end — the real service (MongoDB + API + worker processes): upload → Completed, over HTTP.
 * Prints the ratio, MB in/out, peak RSS of API and worker, status latency under load, upload answer time and
 * mozjpeg's output size against the default. --large: a 10,000-image request of small images. --spread: one
 * request of latency-bound images with 1 worker and with 3 (at several WORK_UNIT_SIZEs): the speedup.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pLimit from 'p-limit'
import sharp from 'sharp'
import { compressImage, DEFAULT_OPTIONS, loadConfig, type ProcessingOptions } from '@imgproc/core'
import type { Db } from 'mongodb'
import { CORPUS, ROOT, csvOf, startService, waitForStatus, type Proc } from '../test/helpers.ts'
import { buildCatalogue } from './images.ts'

const { values: args } = parseArgs({ options: { images: { type: 'string', default: '300' }, large: { type: 'boolean', default: false }, spread: { type: 'boolean', default: false }, 'unit-sizes': { type: 'string', default: '10,25,50,100' } } })
const N = Number(args.images)
const CONCURRENCY = Math.max(2, availableParallelism())
const DEFAULTS = DEFAULT_OPTIONS

const peakRssMb = (p: Proc) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))![1]) / 1024
/** User + system CPU seconds a process has used so far (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
const cpuSeconds = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
/** Machine-wide CPU ticks from /proc/stat: busy (everything but idle and iowait) and total, to compare runs by utilisation. */
const machineTicks = () => { const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number); const total = f.reduce((a, b) => a + b, 0); return { busy: total - f[3]! - f[4]!, total } }
const busyPct = (from: ReturnType<typeof machineTicks>) => { const to = machineTicks(); return (100 * (to.busy - from.busy)) / (to.total - from.total) }
/** The embedded mongod's CPU time when scripts/with-mongo.sh started one (NaN against another server). */
const databaseCpuSeconds = () => (process.env.MONGOD_PID ? cpuSeconds(Number(process.env.MONGOD_PID)) : NaN)
/** Update operations the server has run (all databases): progress writes, heartbeats, claims. */
const serverUpdates = async (db: Db) => ((await db.admin().command({ serverStatus: 1 })).opcounters.update as number)
const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN }
const mb = (b: number) => b / 1024 / 1024

async function serve(files: Map<string, Buffer>) {
  const server = createServer((req, res) => {
    const data = files.get(new URL(req.url!, 'http://x').pathname.slice(1))
    data ? res.writeHead(200, { 'content-length': data.length }).end(data) : res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => { server.closeAllConnections(); server.close() } }
}

async function ceiling(buffers: Buffer[], options: ProcessingOptions) {
  sharp.concurrency(Number(process.env.SHARP_CONCURRENCY ?? 1)) // the worker's setting
  const limit = pLimit(CONCURRENCY)
  const started = performance.now()
  const cpu0 = process.cpuUsage()
  const ticks = machineTicks()
  const results = await Promise.all(buffers.map((b) => limit(() => compressImage(b, options, 100_000_000))))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  return { seconds, busyPct: busyPct(ticks), cpuSeconds: (cpu.user + cpu.system) / 1e6, imagesPerSecond: buffers.length / seconds, bytesOut: results.reduce((s, r) => s + r.data.length, 0) }
}

/** Uploads a CSV, then a steady trickle of status requests (10/s) until Completed. */
async function endToEnd(csv: string, env: Record<string, string> = {}) {
  // The harness's test settings (100 ms polls and flushes) give way to the service's defaults, unless set here.
  const defaults = loadConfig({})
  const setting = (key: 'POLL_INTERVAL_MS' | 'PROGRESS_FLUSH_MS') => process.env[key] ?? String(defaults[key])
  const service = await startService({ workers: 1, env: { LOG_LEVEL: 'warn', POLL_INTERVAL_MS: setting('POLL_INTERVAL_MS'), PROGRESS_FLUSH_MS: setting('PROGRESS_FLUSH_MS'), ...env } })
  try {
    const form = new FormData()
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv')
    const cpu0 = { worker: cpuSeconds(service.workers[0]!.child.pid!), api: cpuSeconds(service.api.child.pid!), db: databaseCpuSeconds(), bench: process.cpuUsage() }
    const ticks = machineTicks()
    const updates0 = await serverUpdates(service.db)
    const t0 = performance.now()
    const res = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    const uploadMs = performance.now() - t0
    const { request_id: id } = (await res.json()) as { request_id: string }
    const latencies: number[] = []
    let status: any
    for (;;) {
      const s0 = performance.now()
      status = await (await fetch(`${service.apiUrl}/status/${id}`)).json()
      latencies.push(performance.now() - s0)
      if (status.status === 'Completed' || status.status === 'Failed') break
      await new Promise((r) => setTimeout(r, 100))
    }
    const seconds = (performance.now() - t0) / 1000
    const machineBusyPct = busyPct(ticks)
    const bench = process.cpuUsage(cpu0.bench)
    // Where the CPU went while the request ran: worker, API, this process (image server + status polling).
    const cpu = {
      worker: cpuSeconds(service.workers[0]!.child.pid!) - cpu0.worker,
      api: cpuSeconds(service.api.child.pid!) - cpu0.api,
      db: databaseCpuSeconds() - cpu0.db,
      bench: (bench.user + bench.system) / 1e6
    }
    const progressWrites = (await serverUpdates(service.db)) - updates0
    return {
      seconds,
      cpu,
      machineBusyPct,
      uploadMs,
      status,
      statusP50: pct(latencies, 50),
      statusP99: pct(latencies, 99),
      statusSamples: latencies.length,
      workerPeakRssMb: peakRssMb(service.workers[0]!),
      apiPeakRssMb: peakRssMb(service.api),
      progressWrites
    }
  } finally {
    await service.stop()
  }
}

/** API peak RSS while it accepts the largest CSV we take (10 MB): rows with long, distinct URLs. */
async function acceptLargestCsv() {
  const row = (i: number) => `${i + 1},Product ${i + 1},"https://cdn.example.com/catalogue/${'x'.repeat(960)}/${i}.jpg"`
  const csv = ['S. No.,Product Name,Input Image Urls', ...Array.from({ length: 10_000 }, (_, i) => row(i))].join('\n')
  const service = await startService({ workers: 0, env: { LOG_LEVEL: 'warn' } })
  try {
    const form = new FormData()
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'big.csv')
    const t0 = performance.now()
    const res = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    const uploadMs = performance.now() - t0
    return { status: res.status, csvBytes: csv.length, uploadMs, apiPeakRssMb: peakRssMb(service.api) }
  } finally {
    await service.stop()
  }
}

/**
 * Latency-bound images (each answers after 250 ms, tiny to compress): one request with one worker, then with
 * three at each unit size. Waiting, not CPU, sets the time, so the speedup shows how well workers share a request.
 */
async function spread(results: Record<string, unknown>): Promise<Array<[string, string]>> {
  const IMAGES = 300
  const tiny = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c86432' } }).png().toBuffer()
  const server = createServer((_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(tiny), 250))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const run = async (workers: number, unitSize: number, tag: string) => {
    const service = await startService({ workers, env: { LOG_LEVEL: 'warn', WORK_UNIT_SIZE: String(unitSize) } })
    try {
      const t0 = performance.now()
      const form = new FormData()
      form.append('file', new Blob([csvOf(Array.from({ length: IMAGES }, (_, i) => [i + 1, `SKU${i}`, [`${url}/img?${tag}=${i}`]]))], { type: 'text/csv' }), 'spread.csv')
      const { request_id: id } = (await (await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })).json()) as { request_id: string }
      await waitForStatus(service, id, ['Completed'], 300_000)
      return (performance.now() - t0) / 1000
    } finally {
      await service.stop()
    }
  }
  try {
    const defaultSize = loadConfig({}).WORK_UNIT_SIZE
    const one = await run(1, defaultSize, 'one')
    const rows: Array<[string, string]> = [[`${IMAGES} latency-bound images (250 ms each), 1 worker`, `${one.toFixed(1)} s (WORK_UNIT_SIZE=${defaultSize})`]]
    const three: Record<number, number> = {}
    for (const size of args['unit-sizes']!.split(',').map(Number)) {
      three[size] = await run(3, size, `three${size}`)
      rows.push([`3 workers, WORK_UNIT_SIZE=${size}`, `${three[size]!.toFixed(1)} s: ${(one / three[size]!).toFixed(2)}× speedup (${(three[size]! / one).toFixed(2)}× the time)`])
    }
    Object.assign(results, { spread: { images: IMAGES, oneWorkerSeconds: one, threeWorkersSeconds: three } })
    return rows
  } finally {
    server.closeAllConnections()
    server.close()
  }
}

async function main() {
  // Measure what production runs: the compiled bundle under plain node (tsx adds ~35 MB and start-up work).
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: ROOT, stdio: 'inherit' })
  process.env.IMGPROC_RUN_FROM = 'dist'
  const results: Record<string, unknown> = { date: new Date().toISOString(), images: N, concurrency: CONCURRENCY, cpus: availableParallelism() }
  const rows: Array<[string, string]> = []
  if (args.spread) {
    rows.push(...(await spread(results)))
  } else if (!args.large) {
    process.stdout.write(`building ${N} catalogue images… `)
    const catalogue = await buildCatalogue(CORPUS, path.join(ROOT, 'bench/.cache', `n${N}`), N)
    const files = new Map(await Promise.all(catalogue.map(async (c) => [c.name, await readFile(path.join(ROOT, 'bench/.cache', `n${N}`, c.name))] as const)))
    console.log('done')
    const server = await serve(files)
    const buffers = [...files.values()]
    const bytesIn = buffers.reduce((s, b) => s + b.length, 0)
    try {
      // Ceiling before and after the end-to-end run (A-B-A): on a shared machine the speed drifts between
      // runs, and the mean of the two brackets cancels a linear drift; their spread shows how noisy it was.
      const before = await ceiling(buffers, DEFAULTS)
      const e2e = await endToEnd(csvOf(catalogue.map((c, i) => [i + 1, `SKU${i + 1}`, [`${server.url}/${c.name}`]])))
      const after = await ceiling(buffers, DEFAULTS)
      const ceil = { before, after, imagesPerSecond: (before.imagesPerSecond + after.imagesPerSecond) / 2, cpuSeconds: (before.cpuSeconds + after.cpuSeconds) / 2 }
      const jpegs = buffers.filter((_, i) => catalogue[i]!.name.endsWith('.jpg'))
      const plain = await ceiling(jpegs, DEFAULTS)
      const moz = await ceiling(jpegs, { ...DEFAULTS, mozjpeg: true })
      const e2eRate = N / e2e.seconds
      Object.assign(results, { ceiling: ceil, endToEnd: { ...e2e, status: undefined, imagesPerSecond: e2eRate }, bytesIn, bytesOut: e2e.status.totals.bytes_out, mozjpeg: { defaultBytes: plain.bytesOut, mozjpegBytes: moz.bytesOut, ratio: moz.bytesOut / plain.bytesOut, defaultSeconds: plain.seconds, mozjpegSeconds: moz.seconds } })
      rows.push(
        ['images (mixed JPEG/PNG, 0.3–12 MP)', `${N}, ${mb(bytesIn).toFixed(1)} MB`],
        ['ceiling: sharp in-process (before, after)', `${ceil.imagesPerSecond.toFixed(2)} images/s (${before.imagesPerSecond.toFixed(2)}, ${after.imagesPerSecond.toFixed(2)})`],
        ['end to end: upload → Completed', `${e2eRate.toFixed(2)} images/s`],
        ['ratio end-to-end / ceiling', `${(e2eRate / ceil.imagesPerSecond).toFixed(3)}`],
        ['MB in → out (savings)', `${mb(bytesIn).toFixed(1)} → ${mb(e2e.status.totals.bytes_out).toFixed(1)} (${e2e.status.totals.savings_pct}%)`],
        ['completed / failed', `${e2e.status.counts.succeeded} / ${e2e.status.counts.failed}`],
        ['upload answered in', `${e2e.uploadMs.toFixed(0)} ms`],
        ['GET /status p50 / p99 under load', `${e2e.statusP50.toFixed(1)} / ${e2e.statusP99.toFixed(1)} ms (${e2e.statusSamples} samples)`],
        ['peak RSS worker / API', `${e2e.workerPeakRssMb.toFixed(0)} / ${e2e.apiPeakRssMb.toFixed(0)} MB`],
        ['CPU s worker / API / DB / bench (of wall × cores)', `${e2e.cpu.worker.toFixed(1)} / ${e2e.cpu.api.toFixed(1)} / ${e2e.cpu.db.toFixed(1)} / ${e2e.cpu.bench.toFixed(1)} (of ${(e2e.seconds * availableParallelism()).toFixed(1)}); ceiling ${ceil.cpuSeconds.toFixed(1)}`],
        ['machine CPU busy: ceiling / end to end', `${before.busyPct.toFixed(0)}%, ${after.busyPct.toFixed(0)}% / ${e2e.machineBusyPct.toFixed(0)}%`],
        ['updates to MongoDB (progress, heartbeats, claims)', `${e2e.progressWrites} for ${N} images`],
        ['mozjpeg vs default (JPEG subset, q50)', `${(moz.bytesOut / plain.bytesOut).toFixed(3)}× bytes, ${(moz.seconds / plain.seconds).toFixed(2)}× time`]
      )
    } finally {
      server.close()
    }
  } else {
    const LARGE = 10_000
    const tiny = await sharp(path.join(CORPUS, 'rocket.jpg')).resize(48, 32).jpeg({ quality: 80 }).toBuffer()
    const server = await serve(new Map([['tiny.jpg', tiny]]))
    // Distinct URLs (query string) of one small image: the request's size is real, the compression cheap.
    const csv = csvOf(Array.from({ length: LARGE }, (_, i) => [i + 1, `Product with a realistic name ${i + 1}`, [`${server.url}/tiny.jpg?sku=${i + 1}&variant=front`]]))
    try {
      const e2e = await endToEnd(csv, { MAX_IMAGES_PER_REQUEST: String(LARGE) })
      const biggest = await acceptLargestCsv()
      Object.assign(results, { large: { ...e2e, status: undefined, csvBytes: csv.length, writesPerImage: e2e.progressWrites / LARGE }, largestCsv: biggest })
      rows.push(
        ['large request', `${LARGE} images, CSV ${mb(csv.length).toFixed(2)} MB`],
        ['upload answered in', `${e2e.uploadMs.toFixed(0)} ms`],
        ['end to end', `${e2e.seconds.toFixed(1)} s (${(LARGE / e2e.seconds).toFixed(0)} images/s)`],
        ['completed / failed', `${e2e.status.counts.succeeded} / ${e2e.status.counts.failed}`],
        ['GET /status p50 / p99 under load', `${e2e.statusP50.toFixed(1)} / ${e2e.statusP99.toFixed(1)} ms (${e2e.statusSamples} samples)`],
        ['peak RSS worker / API', `${e2e.workerPeakRssMb.toFixed(0)} / ${e2e.apiPeakRssMb.toFixed(0)} MB`],
        ['updates to MongoDB (progress, heartbeats, claims)', `${e2e.progressWrites} (${(e2e.progressWrites / LARGE).toFixed(4)} per image)`],
        ['10 MB CSV (10,000 rows, 1 KB URLs)', `HTTP ${biggest.status} in ${biggest.uploadMs.toFixed(0)} ms, API peak RSS ${biggest.apiPeakRssMb.toFixed(0)} MB (${mb(biggest.csvBytes).toFixed(1)} MB CSV)`]
      )
    } finally {
      server.close()
    }
  }
  await mkdir(path.join(ROOT, 'bench/results'), { recursive: true })
  const file = path.join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}${args.large ? '-large' : args.spread ? '-spread' : ''}.json`)
  await writeFile(file, JSON.stringify(results, null, 2))
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log('\n' + rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'))
  console.log(`\nresults: ${path.relative(ROOT, file)}`)
}

await main()
