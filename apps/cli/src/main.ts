#!/usr/bin/env node
/**
 * imgproc submit products.csv [--webhook URL] [--quality N|auto[:eco|:good|:high]] [--format F] [--max-width N] [--max-height N] [--mozjpeg] [--outputs SET] [--wait]
 * imgproc status <request_id>
 * imgproc download <request_id> [-o file.csv]
 * imgproc list [--limit N] [--cursor C]
 * imgproc cancel <request_id>
 * imgproc retry <request_id> [--wait]
 * Global: --api-url (or IMGPROC_API_URL, default http://127.0.0.1:3000), --api-key (or IMGPROC_API_KEY).
 * Exit codes: 0 done with no failures, 2 done with some image failures, 1 errors.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { parseArgs } from 'node:util'

const USAGE = `usage:
  imgproc submit <file.csv> [--webhook URL] [--quality 1-100|auto|auto:eco|auto:good|auto:high]
                            [--format original|jpeg|webp|avif|png] [--max-width N] [--max-height N] [--mozjpeg]
                            [--outputs web,amazon,google,ebay,shopify|'[JSON specs]'] [--wait]
  quality auto picks, per image, the smallest output whose SSIMULACRA2 score reaches a floor:
    auto:eco ≥ 60, auto:good ≥ 70 (= auto), auto:high ≥ 80
  imgproc status <request_id>
  imgproc download <request_id> [-o file.csv]
  imgproc list [--limit 1-100] [--cursor C]   your requests, newest first
  imgproc cancel <request_id>                 stop a Pending or Processing request
  imgproc retry <request_id> [--wait]         process again the images that failed (or were cancelled)
options: --api-url URL (IMGPROC_API_URL)  --api-key KEY (IMGPROC_API_KEY)`

class CliError extends Error {}

/** Statuses a request stays in until it is retried. */
const FINAL = ['Completed', 'Failed', 'Cancelled']

/** The parts of the API's answers the CLI reads (the full shapes are in GET /openapi.json). */
interface Counts {
  total: number
  succeeded: number
  failed: number
}
interface ImageView {
  score?: number
  quality?: number
}
interface StatusView {
  status: string
  error: string | null
  progress_pct: number
  counts: Counts
  totals: { bytes_in: number; bytes_out: number; savings_pct: number | null }
  options?: { quality?: number | string }
  output_csv_url: string | null
  products: { items: Array<{ images: ImageView[] }> }
}
interface RequestSummary {
  request_id: string
  status: string
  created_at: string
  completed_at: string | null
  counts: Counts & { pending: number }
}
interface ErrorBody {
  message?: string
  errors?: Array<{ row: number; column: string | null; message: string }>
}

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'api-url': { type: 'string', default: process.env.IMGPROC_API_URL ?? 'http://127.0.0.1:3000' },
    'api-key': { type: 'string', default: process.env.IMGPROC_API_KEY },
    webhook: { type: 'string' },
    quality: { type: 'string' },
    format: { type: 'string' },
    'max-width': { type: 'string' },
    'max-height': { type: 'string' },
    mozjpeg: { type: 'boolean' },
    outputs: { type: 'string' },
    wait: { type: 'boolean', default: false },
    output: { type: 'string', short: 'o' },
    limit: { type: 'string' },
    cursor: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
const api = opts['api-url']!.replace(/\/+$/, '')
const headers: Record<string, string> = opts['api-key'] ? { authorization: `Bearer ${opts['api-key']}` } : {}

/** `target` is a path of the API, or a URL the API handed out (an output link, signed when it signs them). */
async function call<T>(target: string, init: RequestInit = {}): Promise<T> {
  const url = /^https?:\/\//i.test(target) ? target : api + target
  // The API key goes to the API's own origin only; output links need none.
  const auth = new URL(url).origin === new URL(api).origin ? headers : {}
  let response: Response
  try {
    response = await fetch(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) } })
  } catch (err) {
    const where = url.startsWith(api) ? api : new URL(url).origin
    throw new CliError(`cannot reach ${where}: ${(err as Error).cause ?? (err as Error).message}`)
  }
  const type = response.headers.get('content-type') ?? ''
  const body: unknown = type.includes('json') ? await response.json() : await response.text()
  if (!response.ok) {
    const error = (typeof body === 'object' && body !== null ? body : { message: String(body) }) as ErrorBody
    const rows = (error.errors ?? []).map((e) => `  row ${e.row}${e.column ? ` (${e.column})` : ''}: ${e.message}`)
    throw new CliError([`${response.status} ${error.message}`, ...rows].join('\n'))
  }
  return body as T
}

async function submit(file: string | undefined): Promise<number> {
  if (!file) throw new CliError(`submit needs a CSV file\n${USAGE}`)
  const form = new FormData()
  form.append('file', new Blob([await readFile(file)], { type: 'text/csv' }), basename(file))
  const fields: Record<string, string | undefined> = {
    webhook_url: opts.webhook,
    quality: opts.quality,
    format: opts.format,
    max_width: opts['max-width'],
    max_height: opts['max-height'],
    mozjpeg: opts.mozjpeg ? 'true' : undefined,
    outputs: opts.outputs
  }
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, v)
  const accepted = await call<{ request_id: string }>('/upload', { method: 'POST', body: form })
  console.log(accepted.request_id)
  if (!opts.wait) return 0
  return waitFor(accepted.request_id)
}

async function waitFor(id: string): Promise<number> {
  const tty = process.stderr.isTTY
  let lastLine = ''
  for (;;) {
    const status = await call<StatusView>(`/status/${id}?limit=0`)
    const { counts } = status
    const line = `${status.status} ${counts.succeeded + counts.failed}/${counts.total} (${status.progress_pct}%) failed=${counts.failed}`
    if (tty) {
      const width = 30
      const filled = Math.round((status.progress_pct / 100) * width)
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${line}   `)
    } else if (line !== lastLine) {
      process.stderr.write(`${line}\n`)
    }
    lastLine = line
    if (FINAL.includes(status.status)) {
      if (tty) process.stderr.write('\n')
      return summarise(status, await scores(id, status))
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
}

/** With quality=auto: the SSIMULACRA2 scores and chosen qualities of the compressed images (first 1000 products). */
async function scores(id: string, status: StatusView): Promise<string | null> {
  if (typeof status.options?.quality !== 'string') return null
  const page = await call<StatusView>(`/status/${id}?limit=1000`)
  const images = page.products.items.flatMap((p) => p.images).filter((i) => typeof i.score === 'number')
  if (images.length === 0) return `quality: ${status.options.quality} (no image scored)`
  const range = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b)
    return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! }
  }
  const score = range(images.map((i) => i.score!))
  const quality = range(images.map((i) => i.quality ?? 0))
  return `quality: ${status.options.quality}: SSIMULACRA2 min ${score.min} / median ${score.median} / max ${score.max}; encoder quality ${quality.min}–${quality.max} (median ${quality.median}) over ${images.length} images`
}

function summarise(status: StatusView, qualityLine: string | null = null): number {
  const { counts, totals } = status
  console.log(`status: ${status.status}${status.error ? ` (${status.error})` : ''}`)
  console.log(`images: ${counts.succeeded} compressed, ${counts.failed} failed of ${counts.total}`)
  console.log(`bytes: ${totals.bytes_in} → ${totals.bytes_out} (saved ${totals.savings_pct ?? 0}%)`)
  if (qualityLine) console.log(qualityLine)
  if (status.output_csv_url) console.log(`output CSV: ${status.output_csv_url}`)
  if (status.status !== 'Completed') return 1
  return counts.failed > 0 ? 2 : 0
}

async function status(id: string | undefined): Promise<number> {
  if (!id) throw new CliError(`status needs a request id\n${USAGE}`)
  const s = await call<StatusView>(`/status/${id}?limit=0`)
  if (FINAL.includes(s.status)) return summarise(s, await scores(id, s))
  console.log(`status: ${s.status} ${s.counts.succeeded + s.counts.failed}/${s.counts.total} (${s.progress_pct}%)`)
  return 0
}

async function download(id: string | undefined): Promise<number> {
  if (!id) throw new CliError(`download needs a request id\n${USAGE}`)
  const s = await call<StatusView>(`/status/${id}?limit=0`)
  if (!s.output_csv_url) throw new CliError(`request ${id} is ${s.status}; its output CSV is not written yet`)
  // As given: with OUTPUT_URL_TTL_S set, its expires and signature are what lets it through.
  const csv = await call<string>(s.output_csv_url)
  const out = opts.output ?? `${id}.csv`
  await writeFile(out, csv)
  console.log(out)
  return 0
}

async function list(): Promise<number> {
  const query = new URLSearchParams()
  if (opts.limit) query.set('limit', opts.limit)
  if (opts.cursor) query.set('cursor', opts.cursor)
  const page = await call<{ items: RequestSummary[]; next_cursor: string | null }>(`/requests?${query}`)
  for (const r of page.items) {
    const { succeeded, failed, total } = r.counts
    console.log(`${r.request_id}  ${r.status.padEnd(10)}  ${r.created_at}  ${succeeded}/${total} failed=${failed}`)
  }
  if (page.items.length === 0) console.log('no requests')
  if (page.next_cursor) console.log(`more: imgproc list --cursor ${page.next_cursor}`)
  return 0
}

async function cancel(id: string | undefined): Promise<number> {
  if (!id) throw new CliError(`cancel needs a request id\n${USAGE}`)
  const r = await call<RequestSummary>(`/requests/${id}/cancel`, { method: 'POST' })
  console.log(`${r.request_id} ${r.status}: ${r.counts.succeeded + r.counts.failed}/${r.counts.total} done`)
  return 0
}

async function retry(id: string | undefined): Promise<number> {
  if (!id) throw new CliError(`retry needs a request id\n${USAGE}`)
  const r = await call<RequestSummary>(`/requests/${id}/retry`, { method: 'POST' })
  console.log(`${r.request_id} ${r.status}: ${r.counts.pending} images re-queued`)
  return opts.wait ? waitFor(r.request_id) : 0
}

async function main(): Promise<number> {
  const [command, arg] = positionals
  if (opts.help) {
    console.log(USAGE)
    return 0
  }
  if (!command) {
    console.error(USAGE)
    return 1
  }
  if (command === 'submit') return submit(arg)
  if (command === 'status') return status(arg)
  if (command === 'download') return download(arg)
  if (command === 'list') return list()
  if (command === 'cancel') return cancel(arg)
  if (command === 'retry') return retry(arg)
  throw new CliError(`unknown command "${command}"\n${USAGE}`)
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof CliError ? `imgproc: ${err.message}` : err)
    process.exit(1)
  }
)
