import { existsSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { type ImageRecord, imagesRecorded, type UnitData, unitArrival } from '@imgproc/core'
import pLimit from 'p-limit'
import pino from 'pino'
import t from 'tap'
import { jobFixture } from '../../../../test/support/job-fixture.ts'
import { startImageServer } from '../../../../test/support/servers.ts'
import { JobTakenOver } from './contract.ts'
import { type ImagesDeps, imagesProcessor } from './images.ts'

// A work unit's processor on a real store and queue (the test run's MongoDB), a FileStorage in a temporary
// directory, and real images from a server on 127.0.0.1.
const hang = new Set<() => void>()
const images = await startImageServer({ '/hang': (_req, res) => void hang.add(() => res.destroyed || res.end()) })
t.teardown(() => images.close())
const fx = await jobFixture(t, pino({ level: 'silent' }))

const processor = (extra: Partial<ImagesDeps> = {}) =>
  imagesProcessor({
    store: fx.store,
    imageDeps: {
      download: { maxBytes: 50_000_000, timeoutMs: 10_000, retries: 0, maxRedirects: 2, allowPrivateNetworks: true },
      maxInputPixels: 100_000_000,
      storage: fx.storage,
      compressSlot: (work) => work()
    },
    inflight: pLimit(4),
    storage: fx.storage,
    flushMs: 20,
    concurrency: 1,
    metrics: fx.metrics,
    ...extra
  })
const unitOf = async (requestId: string) => (await fx.store.jobs.units(requestId))[0]!
const statuses = (records: ImageRecord[]) => records.map((i) => i.status)

t.test('a unit records every image, in batches with its counters, and then arrives at its finisher', async (t) => {
  const plan = await fx.request([
    `${images.url}/img/rocket.jpg?a`,
    `${images.url}/img/missing.jpg`,
    `${images.url}/img/chelsea.png?a`
  ])
  const id = plan.request.request_id
  const paused: unknown[] = []
  const claim = await fx.claim<UnitData>('images')
  const outcome = await processor({ beforeDone: async (...at) => void paused.push(at) }).process(claim.context)
  t.same(outcome, { kind: 'done', arrive: unitArrival(id, 0) }, 'done, arriving as part 0 of the finisher')
  t.same(paused, [[id, 0]], 'the pause hook ran once every image was recorded')
  const unit = await unitOf(id)
  t.same(statuses(unit.data.images), ['succeeded', 'failed', 'succeeded'], 'every record written')
  t.match(unit.data.images[1], { error_kind: 'http_4xx', error: /404/ })
  t.match(unit.data.tally, { succeeded: 2, failed: 1 }, 'the counters in the same writes')
  t.equal((await fx.store.find(id))!.status, 'Processing', 'the first unit started the request')
  t.same((await readdir(path.join(fx.dir, id))).sort(), ['0.jpg', '2.png'])
  t.ok(await claim.end(outcome))
  t.match(await fx.store.jobs.finisher(id), { state: 'pending' }, 'its one unit arrived: the finisher is due')
})

t.test('a unit taken over from a dead run clears what it was writing and skips what it recorded', async (t) => {
  const plan = await fx.request([`${images.url}/img/rocket.jpg?b`, `${images.url}/img/flowers.jpeg?b`])
  const id = plan.request.request_id
  const first = await fx.claim<UnitData>('images', { leaseMs: 1 })
  const recorded = [{ ...first.context.data.images[0]!, status: 'succeeded' as const, output_file: `${id}/0.jpg` }]
  await first.context.save(imagesRecorded([...recorded, first.context.data.images[1]!], [0]))
  // What the dead run was writing for image 1: a temporary file beside its output's name.
  const stale = path.join(fx.dir, id, '1.jpg.0b6c7c1e-dead.tmp')
  await mkdir(path.dirname(stale), { recursive: true })
  await writeFile(stale, 'half an image')
  await new Promise((r) => setTimeout(r, 20)) // the first run died; its lease ran out
  const second = await fx.claim<UnitData>('images')
  t.ok(second.context.resumed, 'the run knows an earlier one died')
  const outcome = await processor().process(second.context)
  t.equal(outcome.kind, 'done')
  t.equal(images.hits.get('/img/rocket.jpg?b'), undefined, 'the recorded image was not fetched again')
  t.equal(images.hits.get('/img/flowers.jpeg?b'), 1)
  t.same(statuses((await unitOf(id)).data.images), ['succeeded', 'succeeded'])
  t.notOk(existsSync(stale), 'the dead run’s temporary file is gone')
})

t.test('a run whose job is taken over stops, and what it finishes afterwards is not written', async (t) => {
  const plan = await fx.request([`${images.url}/img/rocket.jpg?c`, `${images.url}/hang?c`])
  const id = plan.request.request_id
  const first = await fx.claim<UnitData>('images', { leaseMs: 200 })
  const run = processor().process(first.context)
  await new Promise((r) => setTimeout(r, 400)) // the first image is recorded; the second hangs; the lease runs out
  t.same(statuses((await unitOf(id)).data.images), ['succeeded', 'pending'], 'the first batch landed')
  const second = await fx.claim<UnitData>('images')
  for (const answer of hang) answer() // the hanging image ends (an empty body: a failed image)
  await t.rejects(run, JobTakenOver, 'the old run ends with JobTakenOver')
  t.ok(first.context.signal.aborted, 'and its signal told its other work to stop')
  t.same(statuses((await unitOf(id)).data.images), ['succeeded', 'pending'], 'its late record was not written')
  t.match(await unitOf(id), { state: 'running', generation: 2 }, 'the job is the new run’s')
  t.ok(second.context.resumed)
})

t.test('a unit whose runs kept dying fails its remaining images with the reason, then arrives', async (t) => {
  const plan = await fx.request([`${images.url}/img/rocket.jpg?d`, `${images.url}/img/chelsea.png?d`])
  const id = plan.request.request_id
  const first = await fx.claim<UnitData>('images', { leaseMs: 1 })
  const done = { ...first.context.data.images[0]!, status: 'succeeded' as const, output_file: `${id}/0.jpg` }
  await first.context.save(imagesRecorded([done, first.context.data.images[1]!], [0]))
  await new Promise((r) => setTimeout(r, 20)) // that run died too
  const last = await fx.claim<UnitData>('images')
  const reason = 'abandoned: processing was interrupted 5 times (MAX_CLAIMS=5)'
  const outcome = await processor().exhausted(last.context, reason)
  t.match(outcome, { kind: 'failed', reason, arrive: unitArrival(id, 0) })
  t.ok(await last.end(outcome))
  const unit = await unitOf(id)
  t.match(unit, { state: 'failed', error: reason })
  t.match(unit.data.images, [{ status: 'succeeded' }, { status: 'failed', error: reason, error_kind: 'abandoned' }])
  t.match(unit.data.tally, { succeeded: 1, failed: 1 })
  t.equal(images.hits.get('/img/chelsea.png?d'), undefined, 'nothing was fetched')
  t.match(await fx.store.jobs.finisher(id), { state: 'pending' }, 'the request can still finish')
})

t.test('a worker shutting down starts no image and hands the unit back', async (t) => {
  const plan = await fx.request([`${images.url}/img/rocket.jpg?e`])
  const shutdown = new AbortController()
  shutdown.abort()
  const claim = await fx.claim<UnitData>('images', { shutdown: shutdown.signal })
  t.same(await processor().process(claim.context), { kind: 'released' })
  t.equal(images.hits.get('/img/rocket.jpg?e'), undefined)
  t.same(statuses((await unitOf(plan.request.request_id)).data.images), ['pending'])
})
