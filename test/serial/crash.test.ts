// In test/serial: tap runs it alone. Its leases are short (3 s) so kills are taken over quickly; on a machine
// saturated by neighbouring tests, heartbeats could come late and units change hands for no crash at all.
// Every kill is made while the test holds its victim still (an image answer, a gate, a webhook answer), so the
// moment is there to be found however slowly a loaded machine runs.

import { readFileSync } from 'node:fs'
import { readdir } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'
import path from 'node:path'
import { tally } from '@imgproc/core'
import sharp from 'sharp'
import t from 'tap'
import { csvOf } from '../support/csv.ts'
import type { RequestSnapshot } from '../support/database.ts'
import { GATED_WORKER, type GateCall, startGates } from '../support/gates.ts'
import { CORPUS } from '../support/paths.ts'
import type { Proc } from '../support/processes.ts'
import { startImageServer, startWebhookReceiver } from '../support/servers.ts'
import { startService, upload } from '../support/service.ts'
import { waitFor } from '../support/wait.ts'

const IMAGES = 240
const UNIT_SIZE = 10
const photos = [
  'flowers.jpeg',
  'rocket.jpg',
  'Landscape_2.jpg',
  'chelsea.png',
  'coffee.png',
  'astronaut.png',
  '4.webp',
  'Landscape_7.jpg'
]
const bytes = new Map(photos.map((p) => [p, readFileSync(path.join(CORPUS, p))]))
// The kill points are random; the seed is printed so a failure can be replayed with CRASH_SEED.
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100_000)
let state = seed
const random = () => {
  state = (state * 16807) % 2147483647
  return state / 2147483647
}

// Every image answers after 30 ms, so the request takes long enough to be killed at chosen moments. From fetch
// number `holdAfter` on, answers are held until the test lets them go: the workers waiting for them keep holding
// their units, so at a kill point there is always a holder to kill, even when the rest of the request is done.
let served = 0
let holdAfter = Number.POSITIVE_INFINITY
const held: Array<{ unit: number; gone: () => boolean; send: () => void }> = []
const images = await startImageServer({
  '/slow': (req, res) => {
    const query = new URL(req.url!, 'http://x').searchParams
    const send = () => setTimeout(() => res.writeHead(200).end(bytes.get(query.get('f')!)), 30)
    if (++served <= holdAfter) return send()
    held.push({ unit: Math.floor(Number(query.get('i')) / UNIT_SIZE), gone: closed(res), send })
  }
})
const letImagesGo = () => {
  holdAfter = Number.POSITIVE_INFINITY
  for (const h of held.splice(0)) if (!h.gone()) h.send()
}
/** True once the client went away (its worker was killed) before an answer was sent. */
function closed(res: ServerResponse): () => boolean {
  let gone = false
  res.once('close', () => {
    gone = !res.writableEnded
  })
  return () => gone
}

// The first finisher waits at its gate until it is killed there; later ones go straight on.
let firstFinisher: GateCall | null = null
const gates = await startGates((call) => {
  if (call.gate === 'before-finish' && !firstFinisher) firstFinisher = call
  else call.pass()
})

// The first delivery is never answered (the deliverer waits up to 60 s): its worker is killed inside that attempt.
let deliveries = 0
const receiver = await startWebhookReceiver(() => 200)
const slowReceiver = await startImageServer({
  '/hook': (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries++
      receiver.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() })
      if (deliveries > 1) res.writeHead(200).end()
    })
  }
})
const service = await startService({
  workers: 3,
  workerScript: GATED_WORKER,
  env: {
    LEASE_MS: '3000',
    WORK_UNIT_SIZE: String(UNIT_SIZE),
    WORKER_CONCURRENCY: '2',
    WEBHOOK_TIMEOUT_MS: '60000',
    LOG_LEVEL: 'info'
  },
  workerEnv: gates.env
})
t.teardown(async () => {
  await service.stop()
  await images.close()
  await receiver.close()
  await slowReceiver.close()
  await gates.close()
})

const live = (w: Proc) => w.child.exitCode === null && w.child.signalCode === null
const workerById = (id: string | null | undefined) => service.workers.find((w) => live(w) && w.id === id)
async function kill(worker: Proc | undefined, moment: string) {
  t.ok(worker, `found the worker to kill ${moment}`)
  worker!.child.kill('SIGKILL')
  await worker!.exited
  t.comment(`killed a worker ${moment}`)
  await service.startWorker()
}

t.test(
  `SIGKILL at random moments while 3 workers share one request (seed ${seed}): nothing lost, nothing done twice, one event id`,
  async (t) => {
    const rows = Array.from({ length: IMAGES / 2 }, (_, i): [number, string, string[]] => [
      i + 1,
      `SKU${i + 1}`,
      [0, 1].map((k) => `${images.url}/slow?f=${photos[(i * 2 + k) % photos.length]}&i=${i * 2 + k}`)
    ])
    // reuse=false: the photos repeat under distinct URLs, and this test counts one output per image in the
    // request's own folder (shared outputs are written by the same write-once puts: docs/reuse.md).
    const res = await upload(service.apiUrl, csvOf(rows), { webhook_url: `${slowReceiver.url}/hook`, reuse: 'false' })
    t.equal(res.status, 202)
    const id: string = res.body.request_id
    const doc = () => service.request(id) as Promise<RequestSnapshot>

    // Counters are exact at every moment: each unit's counters match its records, and the request's add up.
    let samples = 0
    const checkCounters = (d: RequestSnapshot) => {
      samples++
      for (const u of d.units) {
        const expected = tally(u.data.images)
        if (JSON.stringify(expected) !== JSON.stringify(u.data.tally))
          t.fail(
            `unit ${u.data.n}: counters ${JSON.stringify(u.data.tally)} but records say ${JSON.stringify(expected)}`
          )
      }
      if (d.counts.succeeded + d.counts.failed + d.counts.pending !== IMAGES)
        t.fail(`counts do not add up: ${JSON.stringify(d.counts)}`)
    }
    // For each image seen recorded: how often it had been fetched by then. An image in flight when its worker dies
    // is fetched again by the next holder (it was never recorded); a recorded one must never be.
    const fetchesWhenRecorded = new Map<string, number>()
    const fetches = (url: string) => images.hits.get(url.replace(images.url, '')) ?? 0
    const remember = (d: RequestSnapshot) => {
      checkCounters(d)
      for (const i of d.images) {
        if (i.status === 'succeeded' && !fetchesWhenRecorded.has(i.url)) fetchesWhenRecorded.set(i.url, fetches(i.url))
      }
    }

    // 1-3. Three kills of a worker holding a unit, at random points between 5 % and 90 % of the images fetched.
    const points = [random(), random(), random()]
      .map((r) => Math.floor(IMAGES * (0.05 + 0.85 * r)))
      .sort((a, b) => a - b)
    t.comment(`kill points (images fetched): ${points.join(', ')}`)
    // Unit number → kills of its holder. Close kill points can hit the same unit twice (its new holder).
    const killedUnits = new Map<number, number>()
    for (const point of points) {
      holdAfter = Math.max(point, served)
      const d = await waitFor(
        `a live holder of a unit waiting for an image after fetch ${holdAfter}`,
        async () => {
          const x = await doc()
          remember(x)
          const waiting = new Set(held.filter((h) => !h.gone()).map((h) => h.unit))
          const holder = x.units.find((u) => u.state === 'running' && waiting.has(u.data.n) && workerById(u.owner))
          return holder ? { x, holder } : null
        },
        90_000,
        50
      ).catch(async (err) => {
        const x = await doc()
        t.comment(
          JSON.stringify({
            counts: x.counts,
            served,
            held: held.map((h) => [h.unit, h.gone()]),
            units: x.units.map((u) => [u.data.n, u.state, u.owner, u.claims, u.due_at, u.data.tally.succeeded])
          })
        )
        for (const w of service.workers)
          t.comment(
            `${w.child.exitCode ?? w.child.signalCode ?? 'live'}: ${w.output().split('\n').slice(-8).join('\n')}`
          )
        throw err
      })
      killedUnits.set(d.holder.data.n, (killedUnits.get(d.holder.data.n) ?? 0) + 1)
      await kill(workerById(d.holder.owner), `holding unit ${d.holder.data.n} at ${d.x.counts.succeeded} images`)
      letImagesGo()
    }

    // 4. After the last unit, before Completed: the first finisher waits at its gate until it is killed.
    const gate = await waitFor('the finisher at its gate', () => firstFinisher, 90_000, 20)
    const finishing = await doc()
    remember(finishing)
    t.match(finishing.finisher, { state: 'running', owner: gate.worker }, 'the finisher holds the request')
    t.not(finishing.status, 'Completed')
    t.equal(finishing.counts.pending, 0, 'every image was recorded before the finisher ran')
    await kill(workerById(gate.worker), 'between the last unit and Completed')

    // 5. During the webhook: the receiver holds the first delivery open.
    await waitFor('first webhook delivery', () => deliveries >= 1, 60_000, 20)
    let d = await doc()
    t.equal(d.status, 'Completed')
    t.equal(d.webhook!.job.state, 'running', 'the delivery is under way')
    await kill(workerById(d.webhook!.job.owner), 'during the webhook')

    d = await waitFor(
      'delivered',
      async () => {
        const x = await doc()
        return x.webhook?.state === 'delivered' ? x : null
      },
      60_000
    )
    remember(d)
    t.same(d.counts, { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 })
    t.match(
      d.summary,
      { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 },
      'the request document’s summary is exact'
    )
    t.ok(
      d.units.every((u) => u.state === 'done'),
      'every unit done'
    )
    // Each kill of a holder costs its unit one more claim: it can only be done by a worker that took it over.
    const killed = [...killedUnits].map(([n, kills]) => ({
      n,
      kills,
      claims: d.units.find((u) => u.data.n === n)!.claims
    }))
    t.ok(
      killed.every((u) => u.claims > u.kills),
      `every unit whose holder was killed was taken over: ${JSON.stringify(killed)}`
    )
    t.ok((d.finisher?.claims ?? 0) >= 2, 'the finisher was taken over after its holder died')
    t.comment(`${samples} snapshots checked for exact counters`)

    // Resume, don't redo: an image recorded as finished before a kill was never fetched again.
    const refetched = [...fetchesWhenRecorded].filter(([url, then]) => fetches(url) !== then)
    t.comment(
      `${fetchesWhenRecorded.size} images seen recorded before kills; ${refetched.length} fetched again afterwards`
    )
    t.same(refetched, [], 'no recorded image is downloaded again')
    const extra = [...images.hits.values()].reduce((a, b) => a + b, 0) - IMAGES
    t.comment(`${extra} extra fetches over 3 kills of unit holders (images in flight, not yet recorded)`)
    t.ok(extra <= 3 * 10, 'only images in flight at a kill were fetched again')

    // Exactly one output per image, no temp files, and every output decodes.
    const files = await readdir(path.join(service.env.STORAGE_DIR!, id))
    t.same(
      files.filter((f) => f.endsWith('.tmp')),
      [],
      'no orphaned temp files'
    )
    const outputs = files.filter((f) => /^\d+\.\w+$/.test(f))
    t.equal(outputs.length, IMAGES, 'one output file per image')
    t.same(new Set(outputs.map((f) => Number(f.split('.')[0]))).size, IMAGES)
    for (const f of outputs) await sharp(path.join(service.env.STORAGE_DIR!, id, f)).stats()
    t.pass('every output decodes completely')
    const csv = readFileSync(path.join(service.env.STORAGE_DIR!, id, 'output.csv'), 'utf8')
      .trim()
      .split('\n')
    t.equal(csv.length, IMAGES / 2 + 1)
    const csvWrites = service.workers.flatMap((w) =>
      w
        .output()
        .split('\n')
        .filter((l) => l.includes(id) && l.includes('"msg":"output csv written"'))
    )
    t.equal(csvWrites.length, 1, 'the output CSV was written once (its first finisher died before writing it)')

    // The webhook: delivered again after the kill, with the same event id.
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']))
    t.ok(receiver.received.length >= 2, `${receiver.received.length} deliveries seen`)
    t.equal(ids.size, 1, 'one event_id across redeliveries')
    t.equal(JSON.parse(receiver.received.at(-1)!.body).event_id, [...ids][0])
  }
)
