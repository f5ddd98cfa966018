/** The CLI with quality=auto: the option goes through, the summary shows the scores and chosen qualities. */

import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { runCli } from './support/processes.ts'
import { startImageServer } from './support/servers.ts'
import { startService } from './support/service.ts'

const images = await startImageServer()
const service = await startService({ workers: 1 })
const dir = await mkdtemp(path.join(tmpdir(), 'cli-quality-'))
t.teardown(async () => {
  await service.stop()
  await images.close()
})

const imgproc = (...args: string[]) => runCli(service.apiUrl, ...args)

t.test('submit --quality auto:eco --wait prints the score range over the images', async (t) => {
  const file = path.join(dir, 'auto.csv')
  await writeFile(file, csvOf([[1, 'Camera', [`${images.url}/img/rocket.jpg`, `${images.url}/img/chelsea.png`]]]))
  const run = await imgproc('submit', file, '--quality', 'auto:eco', '--format', 'jpeg', '--wait')
  t.equal(run.code, 0, run.stderr)
  const line = run.stdout.split('\n').find((l) => l.startsWith('quality: auto:eco'))
  t.ok(line, `summary has a quality line: ${line}`)
  const min = Number(/SSIMULACRA2 min (\d+(\.\d+)?)/.exec(line ?? '')?.[1])
  t.ok(min >= 60, `every image reaches the eco floor (min ${min})`)
  t.match(line, /encoder quality \d+–\d+ \(median \d+\) over 2 images/)
})

t.test('an unknown level is refused by the API with the reason', async (t) => {
  const file = path.join(dir, 'bad.csv')
  await writeFile(file, csvOf([[1, 'Camera', [`${images.url}/img/rocket.jpg`]]]))
  const run = await imgproc('submit', file, '--quality', 'auto:max')
  t.equal(run.code, 1)
  t.match(run.stderr, /400 .*quality/)
})
