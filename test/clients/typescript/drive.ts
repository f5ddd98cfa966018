/**
 * Drives the image processor through openapi-fetch typed by openapi-typescript (./api.d.ts, generated beside this
 * file by test/clients.test.ts, which type-checks this file against it): two uploads (every option at its default,
 * then every option set), status polled to Completed, the output CSV and one image downloaded and checked. Prints a
 * JSON summary; exits 1 on any mismatch. Environment: API_URL, API_KEY, IMAGE_BASE, WEBHOOK_URL.
 */
import { parseString } from 'fast-csv'
import createClient from 'openapi-fetch'
import type { components, paths } from './api.d.ts'

type UploadBody = paths['/upload']['post']['requestBody']['content']['multipart/form-data']
type StatusView = components['schemas']['StatusView']

const env = (name: string) => process.env[name] ?? fail(`${name} is not set`)
function fail(message: string): never {
  console.error(`typescript client: ${message}`)
  process.exit(1)
}

const client = createClient<paths>({
  baseUrl: env('API_URL'),
  headers: { authorization: `Bearer ${env('API_KEY')}` }
})

const base = env('IMAGE_BASE')
const csv = [
  'S. No.,Product Name,Input Image Urls',
  `1,Rocket,${base}/img/rocket.jpg`,
  `2,Landscape,"${base}/img/Landscape_1.jpg,${base}/img/flowers.jpeg"`,
  ''
].join('\n')

/** openapi-fetch sends JSON unless told otherwise: the form, with the CSV as a file part. */
function asForm(body: UploadBody): FormData {
  const form = new FormData()
  for (const [name, value] of Object.entries(body)) {
    if (name === 'file') form.append(name, new Blob([String(value)], { type: 'text/csv' }), 'products.csv')
    else if (value !== undefined) form.append(name, String(value))
  }
  return form
}

async function waitForCompleted(id: string): Promise<StatusView> {
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const { data, error, response } = await client.GET('/status/{request_id}', {
      params: { path: { request_id: id } }
    })
    if (!data) fail(`status answered ${response.status}: ${error?.message}`)
    if (data.status === 'Completed') return data
  }
  fail(`request ${id} did not complete in 90 s`)
}

function csvRows(text: string): Promise<string[][]> {
  const rows: string[][] = []
  return new Promise((resolve, reject) =>
    parseString<string[], string[]>(text)
      .on('data', (row) => rows.push(row))
      .on('end', () => resolve(rows))
      .on('error', reject)
  )
}

function magic(bytes: Uint8Array): string {
  const text = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg'
  if (text(0, 4) === 'RIFF' && text(8, 12) === 'WEBP') return 'webp'
  if (text(1, 4) === 'PNG') return 'png'
  return 'unknown'
}

const uploads: Array<{ label: string; body: UploadBody; magic: string }> = [
  { label: 'defaults', body: { file: csv }, magic: 'jpeg' },
  {
    label: 'options',
    body: { file: csv, quality: 60, format: 'webp', max_width: 300, mozjpeg: true, webhook_url: env('WEBHOOK_URL') },
    magic: 'webp'
  }
]
const summary: Record<string, unknown> = {}
for (const upload of uploads) {
  const accepted = await client.POST('/upload', { body: upload.body, bodySerializer: asForm })
  if (!accepted.data) fail(`${upload.label}: upload answered ${accepted.response.status}: ${accepted.error?.message}`)
  const id = accepted.data.request_id
  const status = await waitForCompleted(id)
  if (status.counts.succeeded !== 3) fail(`${upload.label}: ${status.counts.succeeded} of 3 images succeeded`)

  const output = await client.GET('/requests/{request_id}/output.csv', {
    params: { path: { request_id: id } },
    parseAs: 'text'
  })
  if (output.data === undefined) fail(`${upload.label}: output.csv answered ${output.response.status}`)
  const rows = await csvRows(output.data)
  if (rows.length !== 3 || rows[0]!.slice(0, 4).join('|') !== 'S. No.|Product Name|Input Image Urls|Output Image Urls')
    fail(`${upload.label}: output.csv has ${rows.length} rows, header ${rows[0]}`)
  for (const row of rows.slice(1)) {
    const inputs = row[2]!.split(',')
    const outputs = row[3]!.split(',')
    if (inputs.length !== outputs.length || outputs.includes(''))
      fail(`${upload.label}: row ${row[0]} has outputs ${row[3]} for inputs ${row[2]}`)
  }

  const outputUrl = status.products.items[0]?.images[0]?.output_url
  if (!outputUrl) fail(`${upload.label}: the first image has no output_url`)
  // Outputs are shared by the tenant's requests (docs/reuse.md): /images/o/{scope}/{file}.
  const [scope, file] = new URL(outputUrl).pathname.split('/').slice(-2) as [string, string]
  const image = await client.GET('/images/o/{scope}/{file}', {
    params: { path: { scope, file } },
    parseAs: 'arrayBuffer'
  })
  const kind = image.data ? magic(new Uint8Array(image.data)) : 'no'
  if (image.response.status !== 200 || kind !== upload.magic)
    fail(`${upload.label}: image answered ${image.response.status} with ${kind} bytes, expected ${upload.magic}`)
  summary[upload.label] = { request_id: id, csv_rows: rows.length - 1, image: upload.magic }
}

const missing = await client.GET('/status/{request_id}', {
  params: { path: { request_id: '00000000-0000-0000-0000-000000000000' } }
})
if (!missing.error?.message.includes('no request'))
  fail(`an unknown id answered ${missing.response.status}: ${JSON.stringify(missing.error)}`)
summary.missing = missing.error.statusCode
console.log(JSON.stringify(summary))
