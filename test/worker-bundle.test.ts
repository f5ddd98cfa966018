/**
 * Test code stays out of the product: the worker's and the API's production bundles (built as the Dockerfiles
 * build them) take in nothing under test/ and hold no IMGPROC_TEST_ string. Tests that pause a worker or the API
 * at an exact moment start it through test/support/gated-worker.ts or gated-api.ts, which pass hooks to
 * startWorker or startApi; product code reads no variable for it.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { bundle } from '../scripts/bundle/build.mjs'
import { GATED_API, GATED_WORKER } from './support/gates.ts'
import { ROOT } from './support/paths.ts'

const TEST_MARK = 'IMGPROC_TEST_'

t.test('the gated worker and API, which are test code, name their settings with the mark looked for', async (t) => {
  t.match(await readFile(path.join(ROOT, GATED_WORKER), 'utf8'), TEST_MARK)
  t.match(await readFile(path.join(ROOT, GATED_API), 'utf8'), TEST_MARK)
})

for (const app of ['worker', 'api'])
  t.test(`the ${app} bundle holds no test code`, async (t) => {
    const outdir = await mkdtemp(path.join(tmpdir(), `bundle-${app}-`))
    t.teardown(() => rm(outdir, { recursive: true, force: true }))
    const { metafile } = await bundle(app, { outdir, metafile: true })
    const inputs = Object.keys(metafile!.inputs)
    t.ok(
      inputs.some((i) => i.startsWith(`apps/${app}/src/`)),
      `it is built from the ${app}’s source`
    )
    t.same(
      inputs.filter((i) => i.startsWith('test/')),
      [],
      'nothing under test/'
    )
    const files = await readdir(outdir)
    t.ok(files.includes('main.js'))
    const marked: string[] = []
    for (const file of files)
      if ((await readFile(path.join(outdir, file), 'utf8')).includes(TEST_MARK)) marked.push(file)
    t.same(marked, [], `no ${TEST_MARK} string in any output file or source map`)
  })
