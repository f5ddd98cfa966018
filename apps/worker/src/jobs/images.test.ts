import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { type ImageRecord, imagesRecorded, objectMeta, type UnitData, unitArrival } from '@imgproc/core'
import { FileStorage, isStorageOutage, type Storage, StorageHealth, watchedStorage } from '@imgproc/storage'
import pLimit from 'p-limit'
import pino from 'pino'
import t from 'tap'
import { imagesDeps, jobFixture } from '../../../../test/support/job-fixture.ts'
import { CORPUS } from '../../../../test/support/paths.ts'
import { startImageServer } from '../../../../test/support/servers.ts'
import { type SmallDisk, smallDisk } from '../../../../test/support/small-disk.ts'
import { waitFor } from '../../../../test/support/wait.ts'
import { JobTakenOver } from './contract.ts'
import { type ImagesDeps, imagesProcessor } from './images.ts'

// A work unit's processor on a real store and queue (the test run's MongoDB), a FileStorage in a temporary
// directory, and real images from a server on 127.0.0.1.
const hang = new Set<() => void>()
// The disk the next '/fills-disk' answer fills (the first time it is asked for), before it sends an image.
let filling: SmallDisk | null = null
let failingNow = () => true
const images = await startImageServer({
  '/hang': (_req, res) => void hang.add(() => res.destroyed || res.end()),
  // A 404 sent only once the storage is failing (`failingNow`), so the slot it frees opens during the outage.
  '/404-once-failing': (_req, res) => {
    const answer = () => (failingNow() ? res.writeHead(404).end() : setTimeout(answer, 10))
    answer()
  },
  '/fills-disk': (_req, res) => {
    const disk = filling
    filling = null
    void (disk ? disk.fill() : Promise.resolve()).then(() =>
      res.writeHead(200).end(readFileSync(path.join(CORPUS, 'rocket.jpg')))
    )
  }
})
t.teardown(() => images.close())
const fx = await jobFixture(t, pino({ level: 'silent' }))

const deps = imagesDeps(fx)
const processor = (extra: Partial<ImagesDeps> = {}) => imagesProcessor({ ...deps, ...extra })
/** Its images stored on `storage` (a disk that fills up). */
const onStorage = (storage: Storage, extra: Partial<ImagesDeps> = {}) =>
  processor({ storage, imageDeps: { ...deps.imageDeps, storage }, ...extra })
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
  const slots: number[] = []
  const compressSlot: ImagesDeps['imageDeps']['compressSlot'] = (megapixels, work) => {
    slots.push(megapixels)
    return work()
  }
  const outcome = await processor({
    beforeDone: async (...at) => void paused.push(at),
    imageDeps: { ...deps.imageDeps, compressSlot }
  }).process(claim.context)
  t.same(outcome, { kind: 'done', arrive: unitArrival(id, 0) }, 'done, arriving as part 0 of the finisher')
  t.same(paused, [[id, 0]], 'the pause hook ran once every image was recorded')
  const unit = await unitOf(id)
  t.same(statuses(unit.data.images), ['succeeded', 'failed', 'succeeded'], 'every record written')
  t.match(unit.data.images[1], { error_kind: 'http_4xx', error: /404/ })
  const megapixels = [0, 2].map((i) => (unit.data.images[i]!.width_in! * unit.data.images[i]!.height_in!) / 1e6)
  t.same(slots.sort(), megapixels.sort(), 'each compressed image took its slot with its megapixels; the 404 none')
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
  const claimedAt = Date.now()
  const first = await fx.claim<UnitData>('images', { leaseMs: 200 })
  const run = processor().process(first.context)
  // The first image is recorded (however long a loaded machine takes); the second hangs; the lease runs out.
  await waitFor('the first image recorded', async () => (await unitOf(id)).data.images[0]!.status !== 'pending')
  await new Promise((r) => setTimeout(r, Math.max(0, claimedAt + 300 - Date.now())))
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

t.test(
  'a storage outage: what finished is recorded before the unit is handed back; the rest waits for a later run',
  async (t) => {
    const disk = await smallDisk()
    t.teardown(() => disk.close())
    const storage = new FileStorage(disk.dir)
    filling = disk
    // One image at a time; the second one's host fills the disk as it answers.
    const plan = await fx.request([
      `${images.url}/img/flowers.jpeg?f`,
      `${images.url}/fills-disk?f`,
      `${images.url}/img/chelsea.png?f`
    ])
    const id = plan.request.request_id
    const redownloads = () => fx.metrics.imageRedownloads.get().then((m) => m.values[0]?.value ?? 0)
    const before = await redownloads()
    const first = await fx.claim<UnitData>('images')
    const err = await onStorage(storage, { inflight: pLimit(1) })
      .process(first.context)
      .catch((e) => e)
    t.ok(isStorageOutage(err), `an outage is thrown for the runner to hand back (${err.kind}: ${err.message})`)
    t.match(err, { kind: disk.kind })
    const unit = await unitOf(id)
    t.match(
      unit.data.images,
      [{ status: 'succeeded', output_file: `${id}/0.jpg` }, { status: 'pending', downloads: 1 }, { status: 'pending' }],
      'the image stored before the outage is recorded; the one it interrupted is marked as downloaded once'
    )
    t.notOk(unit.data.images[2]!.downloads, 'no image was started after the outage')
    t.equal(images.hits.get('/img/chelsea.png?f'), undefined)
    t.ok(await first.handBack(new Date()))

    await disk.free()
    const second = await fx.claim<UnitData>('images')
    t.ok(second.context.rerun)
    t.notOk(second.context.resumed, 'a hand-back is not a crash')
    t.equal((await onStorage(storage, { inflight: pLimit(1) }).process(second.context)).kind, 'done')
    t.same(statuses((await unitOf(id)).data.images), ['succeeded', 'succeeded', 'succeeded'])
    t.equal(images.hits.get('/img/flowers.jpeg?f'), 1, 'the recorded image was not fetched again')
    t.equal(images.hits.get('/fills-disk?f'), 2, 'the interrupted one was fetched once more')
    t.equal(images.hits.get('/img/chelsea.png?f'), 1)
    t.equal((await redownloads()) - before, 1, 'and that re-download is counted')
  }
)

t.test('a write that meets a short outage waits in place: nothing is downloaded twice', async (t) => {
  const disk = await smallDisk()
  t.teardown(() => disk.close())
  const storage = new FileStorage(disk.dir)
  const plan = await fx.request([`${images.url}/img/flowers.jpeg?g`, `${images.url}/img/rocket.jpg?g`])
  await disk.fill()
  setTimeout(() => void disk.free(), 700)
  const claim = await fx.claim<UnitData>('images')
  const started = Date.now()
  const outcome = await onStorage(storage, { storageRetryMs: 20_000 }).process(claim.context)
  t.equal(outcome.kind, 'done', `done ${Date.now() - started} ms later, once the disk had room`)
  t.same(statuses((await unitOf(plan.request.request_id)).data.images), ['succeeded', 'succeeded'])
  t.equal(images.hits.get('/img/flowers.jpeg?g'), 1)
  t.equal(images.hits.get('/img/rocket.jpg?g'), 1)
})

t.test(
  'a later run records outputs an earlier one stored but could not record, without downloading them',
  async (t) => {
    const plan = await fx.request([`${images.url}/img/rocket.jpg?h`, `${images.url}/img/flowers.jpeg?h`])
    const id = plan.request.request_id
    const first = await fx.claim<UnitData>('images')
    // The first run stored image 0 and then lost its progress write (the database was away) and its lease.
    const key = `${id}/0.jpg`
    await fx.storage.put(key, readFileSync(path.join(CORPUS, 'rocket.jpg')), objectMeta(key))
    t.ok(await first.handBack(new Date()))
    const found = () => fx.metrics.outputsFound.get().then((m) => m.values[0]?.value ?? 0)
    const before = await found()
    const second = await fx.claim<UnitData>('images')
    t.equal((await processor().process(second.context)).kind, 'done')
    const unit = await unitOf(id)
    t.match(unit.data.images, [
      { status: 'succeeded', output_file: key, format_out: 'jpeg' },
      { status: 'succeeded', output_file: `${id}/1.jpg` }
    ])
    t.equal(images.hits.get('/img/rocket.jpg?h'), undefined, 'the stored image was not fetched')
    t.equal(images.hits.get('/img/flowers.jpeg?h'), 1)
    t.match(unit.data.tally, { succeeded: 2, failed: 0 })
    t.equal((await found()) - before, 1, 'counted on /metrics')
  }
)

t.test('while the storage is failing, a run checks it can write before it downloads anything', async (t) => {
  const disk = await smallDisk()
  t.teardown(() => disk.close())
  const health = new StorageHealth()
  const storage = watchedStorage(new FileStorage(disk.dir), health)
  const plan = await fx.request([`${images.url}/img/flowers.jpeg?i`, `${images.url}/img/rocket.jpg?i`])
  await disk.fill()
  // Another unit of this worker found the disk full.
  await t.rejects(storage.put('x/0.png', Buffer.alloc(10_000), objectMeta('x/0.png')))
  t.ok(health.failing)
  const first = await fx.claim<UnitData>('images')
  const failing = onStorage(storage, { storageFailing: () => health.failing })
  await t.rejects(failing.process(first.context), { name: 'StorageError', kind: disk.kind })
  t.equal(images.hits.get('/img/flowers.jpeg?i'), undefined, 'nothing downloaded while the disk is full')
  t.equal(images.hits.get('/img/rocket.jpg?i'), undefined)
  t.ok(await first.handBack(new Date()))
  await disk.free()
  const second = await fx.claim<UnitData>('images')
  t.equal((await failing.process(second.context)).kind, 'done', 'with room again, the check passes and all is done')
  t.same(statuses((await unitOf(plan.request.request_id)).data.images), ['succeeded', 'succeeded'])
  t.equal(health.failing, null)
})

t.test('once the storage fails, no other image starts downloading; those under way wait for it in place', async (t) => {
  const disk = await smallDisk()
  t.teardown(() => disk.close())
  const health = new StorageHealth()
  const storage = watchedStorage(new FileStorage(disk.dir), health)
  filling = disk
  failingNow = () => health.failing !== null
  // Two at a time: the first image's host fills the disk, and its write waits for room; the second fails on its
  // own (a 404) meanwhile, which frees a slot: the third must not start while the disk is full.
  const plan = await fx.request([
    `${images.url}/fills-disk?j`,
    `${images.url}/404-once-failing?j`,
    `${images.url}/img/chelsea.png?j`
  ])
  const id = plan.request.request_id
  // Room again half a second after the first write failed: the write waits in place meanwhile.
  void waitFor('the write to fail', () => health.failing, 30_000, 10)
    .then(() => new Promise((r) => setTimeout(r, 500)))
    .then(() => disk.free())
  const claim = await fx.claim<UnitData>('images')
  const err = await onStorage(storage, {
    inflight: pLimit(2),
    storageRetryMs: 20_000,
    storageFailing: () => health.failing
  })
    .process(claim.context)
    .catch((e) => e)
  t.ok(isStorageOutage(err), 'the unit is handed back: its next image met a failing storage')
  t.match(
    (await unitOf(id)).data.images,
    [{ status: 'succeeded' }, { status: 'failed', error_kind: 'http_4xx' }, { status: 'pending' }],
    'the image under way waited for room and was stored'
  )
  t.notOk((await unitOf(id)).data.images[2]!.downloads, 'the third image was never downloaded')
  t.equal(images.hits.get('/img/chelsea.png?j'), undefined)
  t.equal(images.hits.get('/fills-disk?j'), 1)
})
