import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { StatusView } from '@imgproc/core'
import sharp from 'sharp'
import { csvOf } from '../test/support/csv.ts'
import { CORPUS, ROOT } from '../test/support/paths.ts'
import { buildWebCatalogue } from './images.ts'
import { mb, treeCpuSeconds } from './measure.ts'
import { serve, startBenchService } from './service.ts'

type Rows = Array<[string, string]>

/**
 * One image in each 20 of the catalogue, mirrored: 5 % of it with new bytes under the same names. The one picked
 * moves along from block to block, so the changed images have the catalogue's mix of formats and sizes.
 */
async function changedImages(dir: string, names: string[]): Promise<string> {
  const changed = `${dir}-changed5`
  await mkdir(changed, { recursive: true })
  const picked = new Set(names.filter((_, i) => i % 20 === (Math.floor(i / 20) * 7) % 20))
  for (const name of await readdir(changed)) if (!picked.has(name)) await rm(path.join(changed, name))
  for (const name of picked) {
    const file = path.join(changed, name)
    if (await stat(file).catch(() => null)) continue
    const image = sharp(await readFile(path.join(dir, name))).flop()
    const ext = path.extname(name)
    const encoded =
      ext === '.png' ? image.png() : ext === '.webp' ? image.webp({ quality: 85 }) : image.jpeg({ quality: 88 })
    await writeFile(file, await encoded.toBuffer())
  }
  return changed
}

/**
 * pnpm bench --rerun: the web catalogue uploaded twice to one service, the second time with 5 % of its images
 * changed on the host (which sends ETag and Last-Modified and answers 304, as CDNs do). The second run against the
 * first: worker CPU, bytes downloaded from the image host, wall time (docs/reuse.md; goal ≤ 0.10 each).
 */
export async function rerun(n: number, results: Record<string, unknown>): Promise<Rows> {
  const dir = path.join(ROOT, 'bench/.cache', `web-n${n}`)
  process.stdout.write(`rerun: building ${n} catalogue images… `)
  const catalogue = await buildWebCatalogue(CORPUS, dir, n)
  const changedDir = await changedImages(
    dir,
    catalogue.map((c) => c.name)
  )
  console.log('done')
  const host = await serve(dir, changedDir)
  const hostStats = async () =>
    (await (await fetch(`${host.url}/_stats`)).json()) as { bodyBytes: number; full: number; notModified: number }
  const service = await startBenchService()
  const worker = service.workers[0]!.child.pid!
  const csv = csvOf(catalogue.map((c, i) => [i + 1, `SKU${i + 1}`, [`${host.url}/${c.name}`]]))
  const run = async () => {
    const [cpu0, host0] = [treeCpuSeconds(worker), await hostStats()]
    const t0 = performance.now()
    const form = new FormData()
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'catalogue.csv')
    const { request_id: id } = (await (
      await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
    ).json()) as {
      request_id: string
    }
    let status: StatusView
    for (;;) {
      status = (await (await fetch(`${service.apiUrl}/status/${id}?limit=0`)).json()) as StatusView
      if (status.status === 'Completed' || status.status === 'Failed') break
      await new Promise((r) => setTimeout(r, 100))
    }
    const host1 = await hostStats()
    return {
      seconds: (performance.now() - t0) / 1000,
      workerCpu: treeCpuSeconds(worker) - cpu0,
      downloadedBytes: host1.bodyBytes - host0.bodyBytes,
      notModified: host1.notModified - host0.notModified,
      counts: status.counts,
      totals: status.totals
    }
  }
  try {
    const first = await run()
    const changed = ((await (await fetch(`${host.url}/_change`, { method: 'POST' })).json()) as { changed: number })
      .changed
    const second = await run()
    const ratios = {
      workerCpu: second.workerCpu / first.workerCpu,
      downloadedBytes: second.downloadedBytes / first.downloadedBytes,
      wallTime: second.seconds / first.seconds
    }
    results.rerun = { images: n, changed, first, second, ratios }
    const r = (x: number) => `${x.toFixed(3)}  (goal ≤ 0.10)`
    return [
      ['[rerun] catalogue', `${n} web images, then ${changed} of them changed (${((100 * changed) / n).toFixed(1)} %)`],
      [
        '[rerun] first run: wall / worker CPU / downloaded',
        `${first.seconds.toFixed(1)} s / ${first.workerCpu.toFixed(1)} s / ${mb(first.downloadedBytes).toFixed(1)} MB`
      ],
      [
        '[rerun] second run: wall / worker CPU / downloaded',
        `${second.seconds.toFixed(1)} s / ${second.workerCpu.toFixed(1)} s / ${mb(second.downloadedBytes).toFixed(1)} MB; ${second.counts.reused} reused, ${second.notModified} answered 304`
      ],
      ['[rerun] RATIO worker CPU second / first', r(ratios.workerCpu)],
      ['[rerun] RATIO bytes downloaded second / first', r(ratios.downloadedBytes)],
      ['[rerun] RATIO wall time second / first', r(ratios.wallTime)]
    ]
  } finally {
    await service.stop()
    host.close()
  }
}
