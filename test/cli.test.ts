import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { runCli } from './support/processes.ts'
import { startImageServer } from './support/servers.ts'
import { startService } from './support/service.ts'

/** /held answers nothing until the test ends: a request with one is Processing until it is cancelled. */
const held: Array<() => void> = []
const images = await startImageServer({
  '/held': (_req, res) => void held.push(() => res.writeHead(404).end())
})
const service = await startService({ workers: 1 })
const dir = await mkdtemp(path.join(tmpdir(), 'cli-'))
t.teardown(async () => {
  for (const answer of held) answer()
  await service.stop()
  await images.close()
})

const imgproc = (...args: string[]) => runCli(service.apiUrl, ...args)

t.test('submit --wait: progress lines, summary, exit 0 when every image succeeded', async (t) => {
  const file = path.join(dir, 'ok.csv')
  await writeFile(file, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`, `${images.url}/img/chelsea.png`]]]))
  const run = await imgproc('submit', file, '--quality', '60', '--format', 'webp', '--wait')
  t.equal(run.code, 0, run.stderr)
  const [id] = run.stdout.split('\n')
  t.match(id, /^[0-9a-f-]{36}$/)
  t.match(run.stderr, /Completed 2\/2 \(100%\) failed=0/, 'plain progress lines when not a TTY')
  t.match(run.stdout, /images: 2 compressed, 0 failed of 2/)
  t.match(run.stdout, new RegExp(`output CSV: ${service.apiUrl}/requests/${id}/output.csv`))
  const doc = (await service.request(id!))!
  t.match(doc.options, { quality: 60, format: 'webp' })

  const set = await imgproc('submit', file, '--outputs', 'google,ebay')
  t.equal(set.code, 0, set.stderr)
  const stored = (await service.db.collection('requests').findOne({ request_id: set.stdout.trim() }))!
  t.same(
    stored.outputs.map((o: { name: string }) => o.name),
    ['google', 'ebay'],
    '--outputs is sent as the outputs field'
  )

  const status = await imgproc('status', id!)
  t.equal(status.code, 0)
  t.match(status.stdout, /status: Completed/)
  const out = path.join(dir, 'out.csv')
  const download = await imgproc('download', id!, '-o', out)
  t.equal(download.code, 0)
  t.match(await readFile(out, 'utf8'), /^S\. No\.,Product Name,Input Image Urls,Output Image Urls\n1,A,.*\.webp/)
})

t.test('exit 2 when some images failed, 1 on errors, with row-level messages', async (t) => {
  const file = path.join(dir, 'partial.csv')
  await writeFile(file, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`, `${images.url}/img/missing.jpg`]]]))
  const partial = await imgproc('submit', file, '--wait')
  t.equal(partial.code, 2)
  t.match(partial.stdout, /1 compressed, 1 failed of 2/)

  const bad = path.join(dir, 'bad.csv')
  await writeFile(bad, 'S. No.,Product Name,Input Image Urls\n1,,ftp://x\n')
  const refused = await imgproc('submit', bad)
  t.equal(refused.code, 1)
  t.match(
    refused.stderr,
    /400 the CSV has 2 problem\(s\)[\s\S]*row 2 \(Product Name\): product name is empty[\s\S]*row 2 \(Input Image Urls\)/
  )
  const outputs = await imgproc('submit', file, '--outputs', 'web,etsy')
  t.equal(outputs.code, 1)
  t.match(outputs.stderr, /400 outputs\[1\]: unknown preset "etsy"/)
  const unknown = await imgproc('status', '00000000-0000-4000-8000-000000000000')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /404 no request with id/)
  const down = await imgproc('status', 'x', '--api-url', 'http://127.0.0.1:9')
  t.equal(down.code, 1)
  t.match(down.stderr, /cannot reach http:\/\/127.0.0.1:9/)
})

t.test('--help is usage and exit 0; no command is usage on stderr and exit 1', async (t) => {
  const help = await imgproc('--help')
  t.equal(help.code, 0)
  t.match(help.stdout, /^usage:\n {2}imgproc submit/)
  t.equal((await imgproc('status', '--help')).code, 0)
  const none = await imgproc()
  t.equal(none.code, 1)
  t.match(none.stderr, /^usage:/)
  t.equal(none.stdout, '')
})

t.test('download fetches the output CSV link as given: signed when the API signs links', async (t) => {
  const signed = await startService({ workers: 1, env: { OUTPUT_URL_TTL_S: '60' } })
  t.teardown(() => signed.stop())
  const file = path.join(dir, 'signed.csv')
  await writeFile(file, csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]]))
  const run = await runCli(signed.apiUrl, 'submit', file, '--wait')
  t.equal(run.code, 0, run.stderr)
  t.match(
    run.stdout,
    /output CSV: http:\/\/127\.0\.0\.1:\d+\/requests\/[0-9a-f-]{36}\/output\.csv\?expires=\d+&signature=/
  )
  const id = run.stdout.split('\n')[0]!
  const out = path.join(dir, 'signed-out.csv')
  const download = await runCli(signed.apiUrl, 'download', id, '-o', out)
  t.equal(download.code, 0, download.stderr)
  t.match(await readFile(out, 'utf8'), /^S\. No\.,Product Name,Input Image Urls,Output Image Urls\n1,A,.*signature=/)
})

t.test('list, cancel and retry', async (t) => {
  const running = path.join(dir, 'held.csv')
  await writeFile(running, csvOf([[1, 'H', [`${images.url}/held?cli=1`, `${images.url}/img/rocket.jpg?cli=1`]]]))
  const submitted = await imgproc('submit', running)
  const id = submitted.stdout.trim()
  const cancelled = await imgproc('cancel', id)
  t.equal(cancelled.code, 0, cancelled.stderr)
  t.match(cancelled.stdout, new RegExp(`^${id} Cancelled: \\d/2 done`))
  const again = await imgproc('cancel', id)
  t.equal(again.code, 1)
  t.match(again.stderr, /409 request .* is Cancelled: only a Pending or Processing request can be cancelled/)

  const partial = path.join(dir, 'retry.csv')
  await writeFile(partial, csvOf([[1, 'R', [`${images.url}/img/rocket.jpg?cli=2`, `${images.url}/img/missing.jpg`]]]))
  const failed = await imgproc('submit', partial, '--wait')
  t.equal(failed.code, 2)
  const failedId = failed.stdout.split('\n')[0]!
  const retried = await imgproc('retry', failedId, '--wait')
  t.equal(retried.code, 2, 'the image is still missing: done again, still failed')
  t.match(retried.stdout, new RegExp(`^${failedId} Processing: 1 images re-queued`))
  t.match(retried.stdout, /images: 1 compressed, 1 failed of 2/)

  const listed = await imgproc('list', '--limit', '2')
  t.equal(listed.code, 0, listed.stderr)
  const lines = listed.stdout.trim().split('\n')
  t.match(lines[0], new RegExp(`^${failedId} +Completed +\\S+ +1/2 failed=1$`))
  t.match(lines[1], new RegExp(`^${id} +Cancelled `))
  t.match(lines[2], /^more: imgproc list --cursor \S+$/)
  const next = await imgproc('list', '--cursor', lines[2]!.split(' ').at(-1)!)
  t.equal(next.code, 0)
  t.notMatch(next.stdout, new RegExp(`${id}|${failedId}`), 'the next page goes on from there')
})
