import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { type ImageRecord, ReuseIndex, type UnitData } from '@imgproc/core'
import { StorageError, type StorageFailing } from '@imgproc/storage'
import pLimit from 'p-limit'
import pino from 'pino'
import t, { type Test } from 'tap'
import { imagesDeps, jobFixture } from '../../../../test/support/job-fixture.ts'
import { CORPUS } from '../../../../test/support/paths.ts'
import { startImageServer } from '../../../../test/support/servers.ts'
import { waitFor } from '../../../../test/support/wait.ts'
import { JobTakenOver } from './contract.ts'
import { type ImagesDeps, imagesProcessor } from './images.ts'

// A unit's images with reuse on, on a real store and reuse index (the test run's MongoDB), a FileStorage and an
// image host on 127.0.0.1 that sends an ETag and answers a matching conditional GET with a 304.
const rocket = readFileSync(path.join(CORPUS, 'rocket.jpg'))
const asked = { full: 0, conditional: 0 }
/** What happens while a conditional GET waits for its 304 (retention's sweep, in the race below). */
let meanwhile = async () => {}
/** What /hook does before it answers 404 (another image of the unit, at work while something else happens). */
let hook = async () => {}
/** Landscape_5.jpg at /gated.jpg, each download `n` answered once `gate(n)` resolves. */
const landscape = readFileSync(path.join(CORPUS, 'Landscape_5.jpg'))
let gated = 0
let gate = async (_n: number) => {}
const host = await startImageServer({
  '/etag.jpg': (req, res) => {
    if (req.headers['if-none-match'] === '"1"') {
      asked.conditional++
      return void meanwhile().then(() => res.writeHead(304, { etag: '"1"' }).end())
    }
    asked.full++
    res.writeHead(200, { etag: '"1"', 'content-length': rocket.length }).end(rocket)
  },
  '/hook': (_req, res) => void hook().then(() => res.writeHead(404).end()),
  '/gated.jpg': (_req, res) =>
    void gate(++gated).then(() => res.writeHead(200, { 'content-length': landscape.length }).end(landscape))
})
t.teardown(() => host.close())
const fx = await jobFixture(t, pino({ level: 'silent' }))
const index = new ReuseIndex(fx.db)
await index.ensureIndexes()

const deps: ImagesDeps = { ...imagesDeps(fx), reuse: { index, secret: 's'.repeat(32) } }
/** A counter of the worker's metrics, over all its labels. */
const total = async (counter: { get(): Promise<{ values: { value: number }[] }> }) =>
  (await counter.get()).values.reduce((n, v) => n + v.value, 0)
/** How each metric `count` names moved while `act` ran. */
async function moved<K extends string>(
  count: Record<K, () => Promise<number>>,
  act: () => Promise<void>
): Promise<Record<K, number>> {
  const names = Object.keys(count) as K[]
  const before = await Promise.all(names.map((k) => count[k]()))
  await act()
  const after = await Promise.all(names.map((k) => count[k]()))
  return Object.fromEntries(names.map((k, i) => [k, after[i]! - before[i]!])) as Record<K, number>
}
const counts = {
  images: () => total(fx.metrics.images),
  reused: () => total(fx.metrics.imagesReused),
  redownloads: () => total(fx.metrics.imageRedownloads)
}

/** One request of `urls`, its one unit run to the end; its image records. */
async function run(
  t: Test,
  urls: string[],
  with_: Partial<ImagesDeps> = {}
): Promise<{ id: string; images: ImageRecord[] }> {
  const plan = await fx.request(urls)
  const claim = await fx.claim<UnitData>('images')
  const outcome = await imagesProcessor({ ...deps, ...with_ }).process(claim.context)
  t.equal(outcome.kind, 'done')
  t.ok(await claim.end(outcome))
  const id = plan.request.request_id
  return { id, images: (await fx.store.jobs.units(id))[0]!.data.images }
}

t.test('outputs retention removes before the unit writes its index are not handed out: made again', async (t) => {
  const first = await run(t, [`${host.url}/etag.jpg`])
  const key = first.images[0]!.output_file!
  t.match(first.images[0], { status: 'succeeded', output_file: /^o\// }, 'made under a content-addressed key')
  t.ok(await index.outputs.findOne({ _id: key }), 'and indexed')

  // A day later, nobody having referred to it, retention claims it while the next request's 304 is on its way:
  // the image found it indexed, but its reference at the flush does not hold.
  await index.outputs.updateOne({ _id: key }, { $set: { last_ref_at: new Date(Date.now() - 3 * 86_400_000) } })
  let claimed: string[] = []
  meanwhile = async () => {
    claimed = await index.claimUnreferenced(new Date(Date.now() - 86_400_000), 100)
  }
  let second = { id: '', images: [] as ImageRecord[] }
  const metrics = await moved(counts, async () => {
    second = await run(t, [`${host.url}/etag.jpg`])
  })
  meanwhile = async () => {}
  t.same(metrics, { images: 1, reused: 0, redownloads: 1 }, 'counted once, as made, and downloaded again')
  t.same(claimed, [key], 'retention claimed it first')
  t.match(second.images[0], { status: 'succeeded', output_file: new RegExp(`^${second.id}/`) }, 'its own key')
  t.equal(second.images[0]!.reused, undefined, 'not reused')
  t.same(asked, { full: 2, conditional: 1 }, 'asked conditionally, then downloaded for its own copy')

  // The same bytes at another URL: made under the key being removed, whose record is then refused at the flush.
  const url = `${host.url}/img/rocket.jpg?other`
  const third = await run(t, [url])
  t.match(third.images[0], { status: 'succeeded', output_file: new RegExp(`^${third.id}/`) }, 'its own key')
  t.equal(await index.sources.countDocuments({ url }), 0, 'no source remembered for outputs not recorded')
  t.match(await index.outputs.findOne({ _id: key }), { removing: Date }, 'retention still owns the entry')
})

/** The key `url`'s image is made under, once retention has claimed it: being removed, its object still stored. */
async function claimedOutput(t: Test, url: string): Promise<string> {
  const key = (await run(t, [url])).images[0]!.output_file!
  await index.outputs.updateOne({ _id: key }, { $set: { last_ref_at: new Date(Date.now() - 3 * 86_400_000) } })
  t.ok((await index.claimUnreferenced(new Date(Date.now() - 86_400_000), 100)).includes(key), 'retention claimed it')
  return key
}

t.test('an output retention deletes after a put found it stored, before the flush, is not handed out', async (t) => {
  const key = await claimedOutput(t, `${host.url}/img/flowers.jpeg?a`)
  // The same bytes at another URL are made under that key (its object is still there), and then retention
  // deletes the object and drops the entry while the unit's next image is at work, before the unit's flush.
  hook = async () => {
    await fx.storage.delete(key)
    await index.forget(key)
  }
  const url = `${host.url}/img/flowers.jpeg?b`
  let unit = { id: '', images: [] as ImageRecord[] }
  const metrics = await moved(counts, async () => {
    unit = await run(t, [url, `${host.url}/hook`], { inflight: pLimit(1), flushMs: 60_000 })
  })
  hook = async () => {}
  t.same(metrics, { images: 2, reused: 0, redownloads: 1 }, 'each image counted once; the remake downloads again')
  t.match(unit.images[0], { status: 'succeeded', output_file: new RegExp(`^${unit.id}/`) }, 'made under its own key')
  t.ok(await fx.storage.stat(unit.images[0]!.output_file!), 'which is stored')
  t.equal(await index.outputs.findOne({ _id: key }), null, 'no entry left pointing at the deleted object')
  t.equal(await index.sources.countDocuments({ url }), 0, 'no source remembered for outputs not recorded')
})

t.test('a remake that fails inside a background flush ends the run with its error, not the process', async (t) => {
  await claimedOutput(t, `${host.url}/img/Landscape_2.jpg?a`)
  // The same bytes at another URL: refused at a background flush (its key is being removed), and the storage
  // fails before its remake starts, while the unit's other image is still downloading.
  let failing: StorageFailing | null = null
  let consulted = () => {}
  const remakeStarted = new Promise<void>((r) => (consulted = r))
  hook = async () => {
    failing = { kind: 'unreachable', reason: 'storage away (spec)', since: new Date() }
    await remakeStarted
  }
  const plan = await fx.request([`${host.url}/img/Landscape_2.jpg?b`, `${host.url}/hook`])
  const claim = await fx.claim<UnitData>('images')
  const storageFailing = () => {
    if (failing) consulted()
    return failing
  }
  await t.rejects(
    imagesProcessor({ ...deps, storageFailing }).process(claim.context),
    StorageError,
    'the storage outage hands the unit back'
  )
  hook = async () => {}
  const images = (await fx.store.jobs.units(plan.request.request_id))[0]!.data.images
  t.same(
    images.map((i) => i.status),
    ['pending', 'failed'],
    'the refused image is still to do'
  )
})

t.test('a run taken over while a remake downloads ends only once the remake has, which stores nothing', async (t) => {
  await claimedOutput(t, `${host.url}/img/Landscape_5.jpg?a`)
  gated = 0
  const plan = await fx.request([`${host.url}/gated.jpg`, `${host.url}/hook`])
  const id = plan.request.request_id
  const first = await fx.claim<UnitData>('images', { leaseMs: 200 })
  const inflight = pLimit(4)
  // The image at /gated.jpg is refused at a background flush (its key is being removed) and made again; while
  // its second download waits, the unit's other image ends after another worker took the unit over.
  let release = () => {}
  const released = new Promise<void>((r) => (release = r))
  gate = async (n) => {
    if (n === 2) await released
  }
  hook = async () => {
    await waitFor('the remake to download', () => gated === 2, 10_000, 10)
    await waitFor('the lease to run out', () => fx.claim<UnitData>('images').catch(() => null), 10_000, 50)
  }
  first.context.signal.addEventListener('abort', () => release()) // the run found it was taken over
  await t.rejects(imagesProcessor({ ...deps, inflight }).process(first.context), JobTakenOver)
  gate = async () => {}
  hook = async () => {}
  t.equal(inflight.activeCount + inflight.pendingCount, 0, 'no image of the run still under way')
  await waitFor('the remake to end', () => inflight.activeCount === 0, 10_000, 10)
  t.notOk(existsSync(path.join(fx.dir, id)), 'the remake stored nothing once the unit was another run’s')
})
