import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { csvOf } from '../support/csv.ts'
import { GATED_WORKER, type GateCall, startGates } from '../support/gates.ts'
import { startImageServer, startWebhookReceiver } from '../support/servers.ts'
import { startService, upload, waitForStatus } from '../support/service.ts'
import { waitFor } from '../support/wait.ts'

// Two workers holding one unit each. Each unit, once every image is recorded, waits at a gate until the other
// has recorded every image too; then both go on at once, so they arrive at the finisher at the same moment.
const images = await startImageServer()
const receiver = await startWebhookReceiver()
const waiting: GateCall[] = []
const gates = await startGates((call) => {
  if (call.gate !== 'before-unit-done') return call.pass()
  waiting.push(call)
  if (waiting.length === 2) for (const c of waiting) c.pass()
})
const service = await startService({
  workers: 2,
  workerScript: GATED_WORKER,
  env: { WORK_UNIT_SIZE: '3', WORKER_UNITS: '1', LOG_LEVEL: 'info' },
  workerEnv: gates.env
})
t.teardown(async () => {
  await service.stop()
  await images.close()
  await receiver.close()
  await gates.close()
})

t.test(
  'two units complete at the same moment: one output CSV write, one Completed transition, one webhook',
  async (t) => {
    const completions: unknown[] = []
    const watch = service.db
      .collection('requests')
      .watch([{ $match: { 'updateDescription.updatedFields.status': 'Completed' } }])
    watch.on('change', (c) => completions.push(c))
    t.teardown(() => watch.close())
    await new Promise((r) => setTimeout(r, 500)) // the change stream is open before anything happens

    const photos = ['rocket.jpg', 'flowers.jpeg', 'chelsea.png', 'Landscape_1.jpg', 'coffee.png', '4.webp']
    const { body } = await upload(
      service.apiUrl,
      csvOf(photos.map((p, i) => [i + 1, `SKU${i}`, [`${images.url}/img/${p}?race=1`]])),
      { webhook_url: `${receiver.url}/hook` }
    )
    await waitForStatus(service, body.request_id, ['Completed'], 60_000)
    await waitFor('the webhook', () => receiver.received.length >= 1, 30_000)
    const doc = await waitFor('the finisher to be done', async () => {
      const d = await service.request(body.request_id)
      return d?.finisher?.state === 'done' ? d : null
    })
    await new Promise((r) => setTimeout(r, 1500)) // room for a second delivery or transition, were there one

    t.same(
      waiting.map((c) => [c.requestId, c.n]).sort(),
      [
        [body.request_id, 0],
        [body.request_id, 1]
      ],
      'both units waited at the gate for each other'
    )
    t.equal(doc.units.length, 2)
    t.equal(new Set(doc.units.map((u) => u.finished_by)).size, 2, 'each unit was held by a different worker')
    t.same(
      waiting.map((c) => c.worker).sort(),
      doc.units.map((u) => u.finished_by).sort(),
      'the workers that waited are the ones that finished the units'
    )
    const arrived = doc.units.map((u) => u.finished_at!.getTime())
    t.comment(`units finished ${Math.abs(arrived[0]! - arrived[1]!)} ms apart`)
    t.ok(Math.abs(arrived[0]! - arrived[1]!) < 250, 'the two units finished at the same moment')
    t.match(doc.finisher, { state: 'done', claims: 1 }, 'one finisher, claimed once')
    const csvWrites = service.workers.flatMap((w) =>
      w
        .output()
        .split('\n')
        .filter((l) => l.includes(body.request_id) && l.includes('"msg":"output csv written"'))
    )
    t.equal(csvWrites.length, 1, 'one output CSV write')
    t.equal(completions.length, 1, 'one Completed transition (seen on a change stream of requests)')
    t.equal(receiver.received.length, 1, 'one webhook')
    t.equal(
      readFileSync(path.join(service.env.STORAGE_DIR!, body.request_id, 'output.csv'), 'utf8')
        .trim()
        .split('\n').length,
      7
    )
  }
)
