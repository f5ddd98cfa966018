import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OutputView, StatusView } from '@imgproc/core'
import sharp from 'sharp'
import t from 'tap'
import {
  busyPhoto,
  cmykJpeg,
  productOnOffWhite,
  smallProduct,
  transparentProduct
} from '../packages/media/test/product-images.ts'
import { csvOf, readCsv } from './support/csv.ts'
import { freePort, startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload } from './support/service.ts'
import { waitFor } from './support/wait.ts'

/**
 * Output sets end to end: product-like images on a loopback server (each download counted), an upload with
 * `outputs`, a real API and worker, then every output checked where the customer sees it: status, the files,
 * the output CSV's columns and the manifest.
 */
const generated: Record<string, Buffer> = {
  '/off-white.jpg': await productOnOffWhite(),
  '/transparent.png': await transparentProduct(),
  '/cmyk.jpg': cmykJpeg(),
  '/small.jpg': await smallProduct(),
  '/busy.jpg': await busyPhoto()
}
const serve = (data: Buffer) => (_req: IncomingMessage, res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length }).end(data)
const images = await startImageServer(Object.fromEntries(Object.entries(generated).map(([p, d]) => [p, serve(d)])))
const receiver = await startWebhookReceiver()
const workerPort = await freePort()
const service = await startService({ workers: 1, workerEnv: { WORKER_HTTP_PORT: String(workerPort) } })
t.teardown(async () => {
  await service.stop()
  await images.close()
  await receiver.close()
})

const url = (p: string) => `${images.url}${p}`
const rows: Array<[number, string, string[]]> = [
  [1, 'Mug', [url('/off-white.jpg'), url('/missing.jpg')]],
  [2, 'Ball', [url('/transparent.png')]],
  [3, 'Poster', [url('/cmyk.jpg'), url('/small.jpg')]],
  [4, 'View', [url('/busy.jpg'), url('/off-white.jpg')]]
]
const SMALL = { name: 'small', format: 'jpeg', quality: 85, max_bytes: 20_000 }
const WEB = ['480', '960', '1600'].flatMap((w) => ['avif', 'webp', 'jpeg'].map((f) => `web-${w}-${f}`))
const NAMES = [...WEB, 'amazon', 'google', 'small']

t.test('web, amazon, google and a max_bytes spec from one download per image', async (t) => {
  const accepted = await upload(service.apiUrl, csvOf(rows), {
    outputs: JSON.stringify(['web', 'amazon', 'google', SMALL]),
    webhook_url: `${receiver.url}/hook`
  })
  t.equal(accepted.status, 202, JSON.stringify(accepted.body))
  const id = accepted.body.request_id
  const status = await waitFor(
    'Completed',
    async () => {
      const body = (await (await fetch(`${service.apiUrl}/status/${id}`)).json()) as StatusView
      return body.status === 'Completed' ? body : null
    },
    240_000,
    200
  )
  t.same(status.counts, { total: 6, succeeded: 5, failed: 1, pending: 0, reused: 0 })
  t.same(
    status.outputs!.map((o) => o.name),
    NAMES,
    'status lists the set, presets expanded'
  )
  for (const path of Object.keys(generated)) t.equal(images.hits.get(path), 1, `${path} downloaded once`)

  const byInput = new Map(status.products.items.flatMap((p) => p.images).map((i) => [i.input_url, i]))
  const outputs = (p: string) => new Map(byInput.get(url(p))!.outputs!.map((o) => [o.name, o]))
  for (const [p, image] of byInput) {
    if (image.status !== 'succeeded') continue
    t.same(
      image.outputs!.map((o) => o.name),
      NAMES,
      `${p}: every output, in order`
    )
    t.equal(image.output_url, image.outputs![0]!.url, 'output_url is the first output')
    const side = Math.max(image.width_in!, image.height_in!)
    for (const output of image.outputs!) {
      if (output.name === 'amazon') continue // a canvas around the trimmed product, checked below
      t.ok(Math.max(output.width, output.height) <= side, `${p} ${output.name}: ${output.width} px, never enlarged`)
    }
  }

  // Verdicts, per test image.
  const verdict = (p: string, name: string) => outputs(p).get(name)!.compliance!
  t.match(verdict('/off-white.jpg', 'amazon'), {
    verdict: 'fixed',
    changes: ['background made pure white', 'trimmed and centred: product fills 87 %']
  })
  t.match(verdict('/transparent.png', 'amazon'), {
    verdict: 'fixed',
    changes: ['transparency flattened on white', 'trimmed and centred: product fills 87 %']
  })
  t.match(verdict('/cmyk.jpg', 'google'), { verdict: 'fixed', changes: ['CMYK converted to sRGB'] })
  t.match(verdict('/small.jpg', 'amazon'), { verdict: 'fail', problems: [/under the 500 px on the longest side/] })
  t.match(verdict('/busy.jpg', 'amazon'), { verdict: 'fail', problems: [/not one colour/] })
  t.match(verdict('/busy.jpg', 'google'), { verdict: 'pass', changes: [], problems: [] })

  // The files: the formats promised; Amazon's border white and its product centred; Google never AVIF.
  const fetched = async (output: OutputView) => {
    const res = await fetch(output.url)
    t.equal(res.status, 200, output.url)
    const data = Buffer.from(await res.arrayBuffer())
    t.equal(data.length, output.bytes, `${output.name}: the bytes status reports`)
    return data
  }
  for (const image of byInput.values()) {
    for (const output of image.outputs ?? []) {
      if (!['web-480-avif', 'amazon', 'google', 'small'].includes(output.name)) continue
      const meta = await sharp(await fetched(output)).metadata()
      t.equal(meta.format, output.format === 'avif' ? 'heif' : output.format, `${output.name} is ${output.format}`)
      t.same([meta.width, meta.height], [output.width, output.height])
      if (output.name === 'google') t.not(meta.format, 'heif', 'no AVIF for Google')
      if (output.name === 'small') t.ok(output.bytes <= SMALL.max_bytes, `small: ${output.bytes} ≤ ${SMALL.max_bytes}`)
    }
  }
  const amazon = await fetched(outputs('/off-white.jpg').get('amazon')!)
  const { data, info } = await sharp(amazon).raw().toBuffer({ resolveWithObject: true })
  let lowest = 255
  let box = { left: info.width, right: -1, top: info.height, bottom: -1 }
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++) {
      const o = (y * info.width + x) * info.channels
      const min = Math.min(data[o]!, data[o + 1]!, data[o + 2]!)
      if (y < 3 || x < 3 || y >= info.height - 3 || x >= info.width - 3) lowest = Math.min(lowest, min)
      if (min < 235)
        box = {
          left: Math.min(box.left, x),
          right: Math.max(box.right, x),
          top: Math.min(box.top, y),
          bottom: Math.max(box.bottom, y)
        }
    }
  t.ok(lowest >= 254, `Amazon's border is white (lowest channel ${lowest})`)
  const fill = Math.max(box.right - box.left + 1, box.bottom - box.top + 1) / info.width
  t.ok(Math.abs(fill - 0.87) < 0.02, `product fills ${fill.toFixed(3)} of the square`)

  // The output CSV: the first output in Output Image Urls, a column per further output, slots in input order.
  const csv = await readCsv(await (await fetch(status.output_csv_url!)).text())
  t.same(csv[0], [
    'S. No.',
    'Product Name',
    'Input Image Urls',
    'Output Image Urls',
    ...NAMES.slice(1).map((n) => `Output Image Urls (${n})`)
  ])
  for (const [r, [, , inputs]] of rows.entries()) {
    const record = csv[r + 1]!
    for (const [c, name] of NAMES.entries()) {
      const cells = record[3 + c]!.split(',')
      t.equal(cells.length, inputs.length, `row ${r + 1} ${name}: a slot per input`)
      for (const [i, input] of inputs.entries()) {
        const expected = byInput.get(input)!.outputs?.find((o) => o.name === name)?.url ?? ''
        t.equal(cells[i], expected, `row ${r + 1} ${name} slot ${i}`)
      }
    }
  }
  t.equal(csv[1]![3 + NAMES.indexOf('google')]!.split(',')[1], '', 'the missing image leaves its slots empty')

  // The manifest: every output per product and image, and srcset strings per format for web.
  const res = await fetch(`${service.apiUrl}/requests/${id}/manifest.json`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^application\/json/)
  const manifest = (await res.json()) as {
    outputs: string[]
    products: Array<{
      serial: number
      images: Array<{ input_url: string; outputs: OutputView[]; srcset: Record<string, Record<string, string>> }>
    }>
  }
  t.same(manifest.outputs, NAMES)
  t.same(
    manifest.products.map((p) => p.serial),
    [1, 2, 3, 4]
  )
  const mug = manifest.products[0]!.images[0]!
  t.same(mug.outputs, byInput.get(url('/off-white.jpg'))!.outputs, 'the outputs status shows')
  const web = (name: string) => mug.outputs.find((o) => o.name === name)!
  t.equal(
    mug.srcset.web!.avif,
    `${web('web-480-avif').url} 480w, ${web('web-960-avif').url} 960w, ${web('web-1600-avif').url} 1600w`
  )
  t.same(Object.keys(mug.srcset.web!).sort(), ['avif', 'jpeg', 'webp'])
  const small = manifest.products[2]!.images[1]!
  t.equal(
    small.srcset.web!.jpeg,
    `${small.outputs.find((o) => o.name === 'web-480-jpeg')!.url} 420w`,
    'a 420 px source: one file, listed once'
  )
  t.same(manifest.products[0]!.images[1]!.outputs, [], 'the missing image has no outputs')

  // Totals, in status and in the webhook event, count each output and its verdicts.
  const amazonTotals = { delivered: 5, pass: 0, fixed: 2, fail: 3 }
  t.same(status.totals.outputs!.amazon, amazonTotals)
  t.same(status.totals.outputs!['web-480-avif'], { delivered: 5, pass: 0, fixed: 0, fail: 0 })
  t.same(Object.keys(status.totals.outputs!), NAMES)
  await waitFor('webhook', () => receiver.received.length >= 1)
  const event = JSON.parse(receiver.received[0]!.body)
  t.same(event.totals.outputs, status.totals.outputs, 'the webhook event carries the same counts')

  // Metrics count outputs per preset and verdict (5 images: 2 fixed and 3 failed for Amazon).
  const metrics = await (await fetch(`http://127.0.0.1:${workerPort}/metrics`)).text()
  t.match(metrics, /imgproc_outputs_total\{preset="web",verdict="none",app="worker"\} 45/)
  t.match(metrics, /imgproc_outputs_total\{preset="amazon",verdict="fixed",app="worker"\} 2/)
  t.match(metrics, /imgproc_outputs_total\{preset="amazon",verdict="fail",app="worker"\} 3/)
  t.match(metrics, /imgproc_outputs_total\{preset="custom",verdict="none",app="worker"\} 5/)
})

t.test('the manifest of an upload without outputs is 404, and the status shows no set', async (t) => {
  const accepted = await upload(service.apiUrl, csvOf([[1, 'A', [url('/small.jpg')]]]))
  const id = accepted.body.request_id
  const res = await fetch(`${service.apiUrl}/requests/${id}/manifest.json`)
  t.equal(res.status, 404)
  t.match(await res.json(), { message: /uploaded without outputs/ })
  const status = (await (await fetch(`${service.apiUrl}/status/${id}`)).json()) as StatusView
  t.notOk('outputs' in status)
})
