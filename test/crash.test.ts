import t, { type Test } from 'tap'
import { readdir } from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import type { RequestDocument } from '@imgproc/core'
import { CORPUS, csvOf, startImageServer, startService, startWebhookReceiver, upload, waitFor, type Proc } from './helpers.ts'
import { readFileSync } from 'node:fs'

const IMAGES = 160
const photos = ['flowers.jpeg', 'rocket.jpg', 'Landscape_2.jpg', 'chelsea.png', 'coffee.png', 'astronaut.png', '4.webp', 'Landscape_7.jpg']
const bytes = new Map(photos.map((p) => [p, readFileSync(path.join(CORPUS, p))]))

// Every image answers after 30 ms, so the request takes long enough to be killed at chosen moments.
const images = await startImageServer({
  '/slow': (req, res) => {
    const name = new URL(req.url!, 'http://x').searchParams.get('f')!
    setTimeout(() => res.writeHead(200).end(bytes.get(name)), 30)
  }
})
// The first delivery hangs for 4 s (the deliverer waits up to 5 s): the worker is killed inside that attempt.
let deliveries = 0
const receiver = await startWebhookReceiver(() => 200)
const slowReceiver = await startImageServer({
  '/hook': (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries++
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() })
      setTimeout(() => { if (!res.destroyed) res.writeHead(200).end() }, deliveries === 1 ? 4000 : 0)
    })
  }
})
const service = await startService({
  workers: 3,
  env: { LEASE_MS: '2400', WORKER_CONCURRENCY: '2', WEBHOOK_TIMEOUT_MS: '5000', IMGPROC_FAILPOINT_BEFORE_COMPLETE_MS: '1500', LOG_LEVEL: 'info' }
})
t.teardown(async () => {
  await service.stop()
  await images.close()
  await receiver.close()
  await slowReceiver.close()
})

const workerById = (id: string) => service.workers.find((w) => w.output().includes(`"owner":"${id}"`) && w.child.exitCode === null && w.child.signalCode === null)
async function kill(worker: Proc | undefined, t: Test, moment: string) {
  t.ok(worker, `found the worker to kill ${moment}`)
  worker!.child.kill('SIGKILL')
  await worker!.exited
  await service.startWorker()
}

t.test('SIGKILL at four moments: nothing lost, nothing done twice, one event id', async (t) => {
  const rows = Array.from({ length: IMAGES / 2 }, (_, i): [number, string, string[]] => [
    i + 1,
    `SKU${i + 1}`,
    [0, 1].map((k) => `${images.url}/slow?f=${photos[(i * 2 + k) % photos.length]}&i=${i * 2 + k}`)
  ])
  const res = await upload(service.apiUrl, csvOf(rows), { webhook_url: `${slowReceiver.url}/hook` })
  t.equal(res.status, 202)
  const id: string = res.body.request_id
  const doc = () => service.request(id) as Promise<RequestDocument>
  // For each image seen recorded as finished: how often it had been fetched by then. An image in flight when its
  // worker dies is fetched again by the next one (it was never recorded); a recorded one must never be.
  const fetchesWhenRecorded = new Map<string, number>()
  const fetches = (url: string) => images.hits.get(url.replace(images.url, '')) ?? 0
  const remember = (d: RequestDocument) => d.images.forEach((i) => i.status === 'succeeded' && !fetchesWhenRecorded.has(i.url) && fetchesWhenRecorded.set(i.url, fetches(i.url)))

  // 1. During downloads: early in the request.
  let d = await waitFor('first progress', async () => { const x = await doc(); return x.counts.succeeded >= 5 && x.status === 'Processing' ? x : null })
  remember(d)
  await kill(workerById(d.lease!.owner), t, 'during downloads')

  // 2. During compression: about half way, after another worker took over.
  d = await waitFor('half way', async () => { const x = await doc(); return x.counts.succeeded >= IMAGES / 2 && x.lease ? x : null }, 60_000)
  remember(d)
  t.ok(d.claims >= 2, `taken over after the first kill (claims=${d.claims})`)
  await kill(workerById(d.lease!.owner), t, 'during compression')

  // 3. After the last image, before Completed (the failpoint holds the worker there for 1.5 s).
  d = await waitFor('all images done, not yet Completed', async () => { const x = await doc(); return x.counts.pending === 0 && x.status === 'Processing' ? x : null }, 60_000, 20)
  remember(d)
  await kill(workerById(d.lease!.owner), t, 'after the last image')

  // 4. During the webhook: the receiver holds the first delivery open.
  await waitFor('first webhook delivery', () => deliveries >= 1, 60_000, 20).catch(async (err) => {
    console.error(JSON.stringify({ ...(await doc()), images: undefined, products: undefined }))
    for (const w of service.workers) console.error(w.child.exitCode, w.child.signalCode, w.output().split('\n').filter((l) => !l.includes('image failed')).slice(-6).join('\n'))
    throw err
  })
  d = await doc()
  t.equal(d.status, 'Completed')
  await kill(workerById((d as RequestDocument & { delivery_lease: { owner: string } }).delivery_lease.owner), t, 'during the webhook')

  d = await waitFor('delivered', async () => { const x = await doc(); return x.webhook?.state === 'delivered' ? x : null }, 60_000)
  t.same(d.counts, { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 })
  t.ok(d.claims >= 4, `claims=${d.claims}`)

  // Resume, don't redo: an image recorded as finished before a kill was never fetched again.
  const refetched = [...fetchesWhenRecorded].filter(([url, then]) => fetches(url) !== then)
  t.comment(`${fetchesWhenRecorded.size} images seen recorded before kills; ${refetched.length} fetched again afterwards`)
  t.same(refetched, [], 'no recorded image is downloaded again')
  const extra = [...images.hits.values()].reduce((a, b) => a + b, 0) - IMAGES
  t.ok(extra <= 4 * 12, `only in-flight/unflushed images were redone (${extra} extra fetches over 4 kills)`)

  // Exactly one output per image, no temp files, and every output decodes.
  const files = await readdir(path.join(service.env.STORAGE_DIR!, id))
  t.same(files.filter((f) => f.endsWith('.tmp')), [], 'no orphaned temp files')
  const outputs = files.filter((f) => /^\d+\.\w+$/.test(f))
  t.equal(outputs.length, IMAGES, 'one output file per image')
  t.same(new Set(outputs.map((f) => Number(f.split('.')[0]))).size, IMAGES)
  for (const f of outputs) await sharp(path.join(service.env.STORAGE_DIR!, id, f)).stats()
  t.pass('every output decodes completely')
  const csv = readFileSync(path.join(service.env.STORAGE_DIR!, id, 'output.csv'), 'utf8').trim().split('\n')
  t.equal(csv.length, IMAGES / 2 + 1)

  // The webhook: delivered again after the kill, with the same event id.
  const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']))
  t.ok(receiver.received.length >= 2, `${receiver.received.length} deliveries seen`)
  t.equal(ids.size, 1, 'one event_id across redeliveries')
  t.equal(JSON.parse(receiver.received.at(-1)!.body).event_id, [...ids][0])
})
