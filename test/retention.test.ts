import { existsSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

t.test('retention: an expired request’s documents and files are removed, a fresh one stays', async (t) => {
  const images = await startImageServer()
  const service = await startService({ workers: 1, env: { RETENTION_DAYS: '1', RETENTION_SWEEP_MS: '500' } })
  t.teardown(async () => {
    await service.stop()
    await images.close()
  })
  const send = async (tag: string) =>
    (
      await upload(
        service.apiUrl,
        csvOf([[1, 'A', [`${images.url}/img/rocket.jpg?${tag}`, `${images.url}/img/chelsea.png?${tag}`]]])
      )
    ).body.request_id as string
  const [old, fresh] = [await send('old'), await send('fresh')]
  await waitForStatus(service, old, ['Completed'])
  await waitForStatus(service, fresh, ['Completed'])
  const dir = (id: string) => path.join(service.env.STORAGE_DIR!, id)
  t.ok(existsSync(path.join(dir(old), 'output.csv')))

  // Finished two days ago, as far as anyone can tell.
  await service.db
    .collection('requests')
    .updateOne({ request_id: old }, { $set: { completed_at: new Date(Date.now() - 2 * 86_400_000) } })
  await waitFor(
    'the sweep to remove the expired request',
    async () => !(await service.db.collection('requests').findOne({ request_id: old })),
    30_000
  )
  t.notOk(existsSync(dir(old)), 'its files are gone')
  t.equal((await service.store.queue.ofRequest(old)).length, 0, 'its units, finisher and delivery are gone')
  t.equal(
    await service.db.collection('request_products').countDocuments({ request_id: old }),
    0,
    'its product rows are gone'
  )
  t.equal((await fetch(`${service.apiUrl}/status/${old}`)).status, 404)

  t.ok(await service.db.collection('requests').findOne({ request_id: fresh }), 'the fresh request stays')
  t.ok(existsSync(path.join(dir(fresh), 'output.csv')), 'with its files')
  t.equal((await fetch(`${service.apiUrl}/status/${fresh}`)).status, 200)
  const removedAt = Date.now()
  const sweep = await waitFor('the sweep to be scheduled again', async () => {
    const job = await service.store.jobs.retention()
    return job?.state === 'pending' && job.data.last_run!.getTime() >= removedAt ? job : null
  })
  t.match(
    sweep,
    { kind: 'retention', claims: 0 },
    'one job for the deployment, rescheduled after each run (never counted as a failed claim)'
  )
  t.ok(sweep.due_at! > sweep.data.last_run!, 'for later')
})
