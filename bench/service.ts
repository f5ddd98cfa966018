/**
 * The service as the bench measures it from outside: production bundles as child processes (MongoDB, API, worker),
 * with the environment production sets, their CPU and RSS read from /proc; and an image server to fetch from.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { defaultConcurrency, loadConfig, type StatusView } from '@imgproc/core'
import type { Db } from 'mongodb'
import { startService } from '../test/support/service.ts'
import {
  busyPct,
  cpuSeconds,
  machineTicks,
  pct,
  peakRssMb,
  pssMb,
  rssMb,
  sampleTreeRss,
  treeCpuSeconds
} from './measure.ts'

/** What production sets around the processes (scripts/start-local.sh, infra/Dockerfile.*): glibc keeps at most
 * 2 malloc arenas instead of 8 per core, which libvips' threads otherwise each grow and keep; V8 keeps 1 MB
 * semi-spaces (young objects here are small: image data lives in Buffers outside the JS heap) and an old
 * space of at most 512 MB, which also makes it collect before garbage piles up (a status poll's garbage grew
 * the API's heap by ~50 MB between collections under the default limit, a quarter of the machine's memory). */
export const PRODUCTION_ENV = {
  MALLOC_ARENA_MAX: '2',
  // The worker: a libuv thread per compression slot (sharp runs each pipeline on one) and the usual 4 for files.
  UV_THREADPOOL_SIZE: String(
    (Number(process.env.WORKER_CONCURRENCY) || defaultConcurrency(os.availableParallelism())) + 4
  ),
  NODE_OPTIONS: `--max-semi-space-size=1 --max-old-space-size=512 ${process.env.NODE_OPTIONS ?? ''}`.trim()
}
/** The API only: malloc serves blocks of 32 KB and more from mmap, so they go back to the system when freed
 * (the parser's scratch memory at start-up would otherwise stay resident). Not for the worker: libvips'
 * buffers would pay a page fault per page every time (~5 % more CPU per image, measured). */
export const API_ENV = { MALLOC_MMAP_THRESHOLD_: '32768' }

/**
 * The service as deployed, with one worker: production settings, and the service's own poll and flush periods
 * rather than the harness's test settings (100 ms), unless the environment or `env` sets them.
 */
export function startBenchService(env: Record<string, string> = {}) {
  const defaults = loadConfig({})
  const setting = (key: 'POLL_INTERVAL_MS' | 'PROGRESS_FLUSH_MS') => process.env[key] ?? String(defaults[key])
  return startService({
    workers: 1,
    apiEnv: API_ENV,
    env: {
      ...PRODUCTION_ENV,
      LOG_LEVEL: 'warn',
      POLL_INTERVAL_MS: setting('POLL_INTERVAL_MS'),
      PROGRESS_FLUSH_MS: setting('PROGRESS_FLUSH_MS'),
      ...env
    }
  })
}
/** Update operations the server has run (all databases): progress writes, heartbeats, claims. */
const serverUpdates = async (db: Db) => (await db.admin().command({ serverStatus: 1 })).opcounters.update as number
/** The embedded mongod's CPU time when scripts/with-mongo.sh started one (NaN against another server). */
const databaseCpuSeconds = () => (process.env.MONGOD_PID ? cpuSeconds(Number(process.env.MONGOD_PID)) : NaN)

/**
 * Serves the files of `dir` from a process of its own (bench/image-server.mjs), as a customer's image host would,
 * with validators; `changedDir` holds new bytes for some of them, served after `POST /_change`.
 */
export async function serve(dir: string, changedDir?: string) {
  const args = [path.join(import.meta.dirname, 'image-server.mjs'), dir, ...(changedDir ? [changedDir] : [])]
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string]
  const { port } = JSON.parse(line) as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    /** CPU seconds the image host has used so far: reported, never counted as the service's. */
    cpuSeconds: () => cpuSeconds(child.pid!),
    close: () => void child.kill('SIGTERM')
  }
}

/** How often the waiting client polls (as the CLI does) and how often the latency probe reads a status page. */
const WATCH_MS = 1000
const STATUS_PROBE_MS = 500

/**
 * Uploads a CSV, then waits as the CLI does while a probe reads status pages, until Completed. CPU and RSS are those of the API
 * and worker process trees, RSS sampled every 200 ms; the image host's CPU is reported apart.
 */
export async function endToEnd(
  csv: string,
  env: Record<string, string> = {},
  imageHost?: { cpuSeconds: () => number },
  fields: Record<string, string> = {}
) {
  const service = await startBenchService(env)
  const worker = service.workers[0]!.child.pid!
  const api = service.api.child.pid!
  try {
    // Idle: 2 s after start, and 10 s after (V8's memory reducer has run: what a deployment waiting for work holds).
    await delay(2000)
    const justStarted = { workerRssMb: rssMb(worker), apiRssMb: rssMb(api) }
    await delay(8000)
    const idle = { workerRssMb: rssMb(worker), apiRssMb: rssMb(api), pssMb: pssMb(worker) + pssMb(api), justStarted }
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'bench.csv')
    const cpu0 = {
      worker: treeCpuSeconds(worker),
      api: treeCpuSeconds(api),
      db: databaseCpuSeconds(),
      images: imageHost?.cpuSeconds() ?? 0,
      bench: process.cpuUsage()
    }
    const rss = sampleTreeRss({ worker, api })
    const ticks = machineTicks()
    const updates0 = await serverUpdates(service.db)
    const t0 = performance.now()
    const res = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    const uploadMs = performance.now() - t0
    const { request_id: id } = (await res.json()) as { request_id: string }
    const uploadedAt = Date.now() - uploadMs
    // Two clients at once: one waits as `imgproc upload --wait` does (counts only, once a second), one reads a
    // status page twice a second for the latency figures. The clock stops at the server's `completed_at`, so the
    // watcher's second does not blur the wall time.
    const latencies: number[] = []
    let done = false
    const probe = (async () => {
      while (!done) {
        const s0 = performance.now()
        await (await fetch(`${service.apiUrl}/status/${id}`)).arrayBuffer()
        latencies.push(performance.now() - s0)
        await delay(STATUS_PROBE_MS)
      }
    })()
    let status: StatusView
    for (;;) {
      status = (await (await fetch(`${service.apiUrl}/status/${id}?limit=0`)).json()) as StatusView
      if (status.status === 'Completed' || status.status === 'Failed') break
      await delay(WATCH_MS)
    }
    done = true
    await probe
    const seconds = (Date.parse(status.completed_at ?? new Date().toISOString()) - uploadedAt) / 1000
    const peaks = rss.stop()
    const machineBusyPct = busyPct(ticks)
    const bench = process.cpuUsage(cpu0.bench)
    // Where the CPU went while the request ran: the service's two trees, the database, the image host, and this
    // process (the upload and the status polling).
    const cpu = {
      worker: treeCpuSeconds(worker) - cpu0.worker,
      api: treeCpuSeconds(api) - cpu0.api,
      db: databaseCpuSeconds() - cpu0.db,
      images: (imageHost?.cpuSeconds() ?? 0) - cpu0.images,
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
      idle,
      workerPeakRssMb: peaks.peaks.worker!,
      apiPeakRssMb: peaks.peaks.api!,
      /** The most the two trees held at the same moment. */
      peakRssMb: peaks.together,
      /** The kernel's high-water marks of the two main processes, reached at different moments. */
      highWaterMb: { worker: peakRssMb(worker), api: peakRssMb(api) },
      progressWrites
    }
  } finally {
    await service.stop()
  }
}

/** API peak RSS while it accepts a 10 MB CSV of 10,000 rows with long, distinct URLs (a million rows: bench --ingest). */
export async function acceptLargestCsv() {
  const row = (i: number) => `${i + 1},Product ${i + 1},"https://cdn.example.com/catalogue/${'x'.repeat(960)}/${i}.jpg"`
  const csv = ['S. No.,Product Name,Input Image Urls', ...Array.from({ length: 10_000 }, (_, i) => row(i))].join('\n')
  const service = await startService({ workers: 0, apiEnv: API_ENV, env: { ...PRODUCTION_ENV, LOG_LEVEL: 'warn' } })
  try {
    const form = new FormData()
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'big.csv')
    const t0 = performance.now()
    const res = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    const uploadMs = performance.now() - t0
    return { status: res.status, csvBytes: csv.length, uploadMs, apiPeakRssMb: peakRssMb(service.api.child.pid!) }
  } finally {
    await service.stop()
  }
}
