import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startMongod } from './support/database.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

t.test('a standalone mongod (no replica set, no change streams): the seed flow completes by polling', async (t) => {
  const mongod = await startMongod({ replSet: false })
  const images = await startImageServer()
  const receiver = await startWebhookReceiver()
  const service = await startService({ workers: 1, env: { MONGODB_URI: mongod.uri }, mongoUri: mongod.uri })
  t.teardown(async () => {
    await service.stop()
    await images.close()
    await receiver.close()
    await mongod.kill()
  })

  t.match(service.workers[0]!.output(), /"wake_up":"polling"/, 'the worker knows it must poll')
  const rows: Array<[number, string, string[]]> = [
    [1, 'A', [`${images.url}/img/rocket.jpg`, `${images.url}/img/flowers.jpeg`]],
    [2, 'B', [`${images.url}/img/rocket.jpg`]]
  ]
  const { status, body } = await upload(service.apiUrl, csvOf(rows), { webhook_url: `${receiver.url}/hook` })
  t.equal(status, 202)
  const doc = await waitForStatus(service, body.request_id, ['Completed'], 60_000)
  t.same(doc.counts, { total: 2, succeeded: 2, failed: 0, pending: 0 })
  t.ok(doc.output_csv)
  await waitFor('the webhook', () => receiver.received.length === 1, 30_000)
  t.equal(JSON.parse(receiver.received[0]!.body).status, 'Completed')
})
