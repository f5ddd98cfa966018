/**
 * pnpm bench --ingest [--rows N]: one upload of a generated CSV of N rows (1,000,000 by default), each a product
 * with one distinct ~80-character URL, into the production API bundle with no worker. Measures the time to 202,
 * the API process tree's peak RSS (sampled every 200 ms), and GET /status of another, small request, polled every
 * 50 ms while the ingest runs; then the big request's own status, and a 10,000-row upload on its own.
 */

import { randomUUID } from 'node:crypto'
import { createWriteStream, openAsBlob } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { DEFAULT_OPTIONS, RequestBatches, requestDocument } from '@imgproc/core'
import { csvOf } from '../test/support/csv.ts'
import { ROOT } from '../test/support/paths.ts'
import { type Service, startService } from '../test/support/service.ts'
import { mb, pct, sampleTreeRss } from './measure.ts'
import { API_ENV, PRODUCTION_ENV } from './service.ts'

type Rows = Array<[string, string]>

/** Writes the CSV to a file a chunk at a time (the bench does not hold it either). */
async function generate(file: string, rows: number): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true })
  const out = createWriteStream(file)
  out.write('S. No.,Product Name,Input Image Urls\n')
  for (let start = 1; start <= rows; start += 10_000) {
    let chunk = ''
    for (let i = start; i < Math.min(rows + 1, start + 10_000); i++)
      chunk += `${i},Product ${i},https://cdn.example.com/catalogue/images/2026/spring/${String(i).padStart(8, '0')}-front.jpg\n`
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())))
  return (await stat(file)).size
}

async function post(
  apiUrl: string,
  file: Blob
): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const form = new FormData()
  form.append('file', file, 'catalogue.csv')
  const t0 = performance.now()
  const res = await fetch(`${apiUrl}/upload`, { method: 'POST', body: form })
  const body = (await res.json()) as Record<string, unknown>
  return { status: res.status, body, ms: performance.now() - t0 }
}

/** Times `n` GETs of `url`, one after another. */
async function timeGets(url: string, n: number): Promise<number[]> {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const res = await fetch(url)
    await res.arrayBuffer()
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
    ms.push(performance.now() - t0)
  }
  return ms
}

/**
 * GET /status?limit=0 of a running request of `images` images in units of `unitSize`, written through the store
 * (no upload): what summing the units' counters costs at a given unit count.
 */
async function statusOfUnits(service: Service, images: number, unitSize: number): Promise<number[]> {
  const id = randomUUID()
  const batches = new RequestBatches(id, unitSize, { options: DEFAULT_OPTIONS })
  const creation = await service.store.stage(
    requestDocument(id, { options: DEFAULT_OPTIONS, now: new Date(), unitSize }, batches)
  )
  for (let i = 0; i < images; i += 10_000) {
    const urls = Array.from(
      { length: Math.min(10_000, images - i) },
      (_, k) => `https://cdn.example.com/u/${i + k}.jpg`
    )
    batches.addImages(urls)
    for (let k = 0; k < urls.length; k++)
      batches.addProduct({ serial: i + k + 1, name: `P${i + k}`, image_ids: [i + k] })
    await creation.write(batches.take())
  }
  await creation.write(batches.take(true))
  await creation.commit(requestDocument(id, { options: DEFAULT_OPTIONS, now: new Date(), unitSize }, batches))
  try {
    return await timeGets(`${service.apiUrl}/status/${id}?limit=0`, 50)
  } finally {
    await service.store.remove(id)
  }
}

export async function ingestRun(rows: number, results: Record<string, unknown>): Promise<Rows> {
  const file = path.join(ROOT, 'bench/.cache', `ingest-${rows}.csv`)
  process.stdout.write(`ingest: writing a ${rows}-row CSV… `)
  const bytes = await generate(file, rows)
  console.log(`${mb(bytes).toFixed(1)} MB`)
  const service = await startService({ workers: 0, apiEnv: API_ENV, env: { ...PRODUCTION_ENV, LOG_LEVEL: 'warn' } })
  try {
    const api = service.api.child.pid!
    const small = await post(
      service.apiUrl,
      new Blob([csvOf(Array.from({ length: 100 }, (_, i) => [i + 1, `P${i}`, [`https://a.example/${i}.jpg`]]))])
    )
    if (small.status !== 202) throw new Error(`the small upload: ${small.status} ${JSON.stringify(small.body)}`)
    const otherStatus = `${service.apiUrl}/status/${small.body.request_id}`
    await timeGets(otherStatus, 20) // warm
    await delay(2000)
    // The same polling with nothing else going on: what the machine's load alone does to it.
    const idle: number[] = []
    for (const until = Date.now() + 10_000; Date.now() < until; await delay(50))
      idle.push(...(await timeGets(otherStatus, 1)))

    const rss = sampleTreeRss({ api })
    const latencies: number[] = []
    let uploading = true
    const polling = (async () => {
      while (uploading) {
        latencies.push(...(await timeGets(otherStatus, 1)))
        await delay(50)
      }
    })()
    const big = await post(service.apiUrl, await openAsBlob(file, { type: 'text/csv' }))
    uploading = false
    await polling
    const peak = rss.stop().peaks.api!
    if (big.status !== 202) throw new Error(`the big upload: ${big.status} ${JSON.stringify(big.body).slice(0, 500)}`)
    const bigStatus = `${service.apiUrl}/status/${big.body.request_id}`
    const summary = await timeGets(`${bigStatus}?limit=0`, 50)
    const page = await timeGets(`${bigStatus}?offset=${rows - 100}&limit=100`, 50)
    const doc = await service.db.collection('requests').findOne({ request_id: big.body.request_id })

    await service.store.remove(big.body.request_id as string)
    process.stdout.write(`status of ${rows} images in units of 25… `)
    const smallUnits = await statusOfUnits(service, rows, 25)
    console.log('done')

    const tenK = await post(
      service.apiUrl,
      new Blob([
        csvOf(
          Array.from({ length: 10_000 }, (_, i) => [
            i + 1,
            `Product ${i}`,
            [`https://cdn.example.com/catalogue/images/2026/summer/${String(i).padStart(8, '0')}-front.jpg`]
          ])
        )
      ])
    )
    const measured = {
      rows,
      csvBytes: bytes,
      secondsTo202: big.ms / 1000,
      apiPeakRssMb: peak,
      otherStatus: { p50: pct(latencies, 50), p99: pct(latencies, 99), samples: latencies.length },
      otherStatusIdle: { p50: pct(idle, 50), p99: pct(idle, 99), samples: idle.length },
      bigStatus: {
        units: doc?.units,
        unitSize: doc?.unit_size,
        summaryP50: pct(summary, 50),
        summaryP99: pct(summary, 99),
        lastPageP99: pct(page, 99)
      },
      smallUnitsStatus: { units: Math.ceil(rows / 25), p50: pct(smallUnits, 50), p99: pct(smallUnits, 99) },
      tenThousandRows: { status: tenK.status, ms: tenK.ms }
    }
    results.ingest = measured
    return [
      ['[ingest] CSV', `${rows} rows, ${mb(bytes).toFixed(1)} MB`],
      ['[ingest] time to 202', `${measured.secondsTo202.toFixed(1)} s  (target ≤ 60 s)`],
      ['[ingest] API peak RSS (process tree)', `${peak.toFixed(0)} MB  (target ≤ 300 MB)`],
      [
        '[ingest] GET /status of another request during the ingest, p50 / p99',
        `${measured.otherStatus.p50.toFixed(1)} / ${measured.otherStatus.p99.toFixed(1)} ms (${latencies.length} samples)  (target p99 ≤ 50 ms)`
      ],
      [
        '[ingest] the same, before the ingest (the machine alone), p50 / p99',
        `${measured.otherStatusIdle.p50.toFixed(1)} / ${measured.otherStatusIdle.p99.toFixed(1)} ms (${idle.length} samples)`
      ],
      [
        `[ingest] GET /status of the big request (${doc?.units} units of ${doc?.unit_size}) p50 / p99`,
        `summary ${measured.bigStatus.summaryP50.toFixed(1)} / ${measured.bigStatus.summaryP99.toFixed(1)} ms, last page p99 ${measured.bigStatus.lastPageP99.toFixed(1)} ms`
      ],
      [
        `[ingest] the same summary had it ${Math.ceil(rows / 25)} units of 25 (WORK_UNIT_SIZE), p50 / p99`,
        `${measured.smallUnitsStatus.p50.toFixed(1)} / ${measured.smallUnitsStatus.p99.toFixed(1)} ms`
      ],
      ['[ingest] 10,000-row upload answered in', `${tenK.ms.toFixed(0)} ms, HTTP ${tenK.status}  (target ≤ 1000 ms)`]
    ]
  } finally {
    await service.stop()
    await rm(file, { force: true })
  }
}
