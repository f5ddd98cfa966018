import { createServer } from 'node:http'
import { loadConfig } from '@imgproc/core'
import sharp from 'sharp'
import { csvOf } from '../test/support/csv.ts'
import { startService, waitForStatus } from '../test/support/service.ts'

/**
 * Latency-bound images (each answers after 250 ms, tiny to compress): one request with one worker, then with
 * three at each unit size. Waiting, not CPU, sets the time, so the speedup shows how well workers share a request.
 */
export async function spread(results: Record<string, unknown>, unitSizes: number[]): Promise<Array<[string, string]>> {
  const IMAGES = 300
  const tiny = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#c86432' } })
    .png()
    .toBuffer()
  const server = createServer(
    (_req, res) => void setTimeout(() => res.writeHead(200, { 'content-type': 'image/png' }).end(tiny), 250)
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const run = async (workers: number, unitSize: number, tag: string) => {
    const service = await startService({ workers, env: { LOG_LEVEL: 'warn', WORK_UNIT_SIZE: String(unitSize) } })
    try {
      const t0 = performance.now()
      const form = new FormData()
      form.append('reuse', 'false') // one image under many URLs: each is to be made, as the spread assumes
      form.append(
        'file',
        new Blob([csvOf(Array.from({ length: IMAGES }, (_, i) => [i + 1, `SKU${i}`, [`${url}/img?${tag}=${i}`]]))], {
          type: 'text/csv'
        }),
        'spread.csv'
      )
      const { request_id: id } = (await (
        await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
      ).json()) as { request_id: string }
      await waitForStatus(service, id, ['Completed'], 300_000)
      return (performance.now() - t0) / 1000
    } finally {
      await service.stop()
    }
  }
  try {
    const defaultSize = loadConfig({}).WORK_UNIT_SIZE
    const one = await run(1, defaultSize, 'one')
    const rows: Array<[string, string]> = [
      [`${IMAGES} latency-bound images (250 ms each), 1 worker`, `${one.toFixed(1)} s (WORK_UNIT_SIZE=${defaultSize})`]
    ]
    const three: Record<number, number> = {}
    for (const size of unitSizes) {
      three[size] = await run(3, size, `three${size}`)
      rows.push([
        `3 workers, WORK_UNIT_SIZE=${size}`,
        `${three[size]!.toFixed(1)} s: ${(one / three[size]!).toFixed(2)}× speedup (${(three[size]! / one).toFixed(2)}× the time)`
      ])
    }
    Object.assign(results, { spread: { images: IMAGES, oneWorkerSeconds: one, threeWorkersSeconds: three } })
    return rows
  } finally {
    server.closeAllConnections()
    server.close()
  }
}
