import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

t.test(
  'quality=auto: each image records its score and chosen quality; status and the webhook carry score totals',
  async (t) => {
    const images = await startImageServer()
    const receiver = await startWebhookReceiver()
    const service = await startService({ workers: 1 })
    t.teardown(async () => {
      await service.stop()
      await images.close()
      await receiver.close()
    })
    const rows: Array<[number, string, string[]]> = [
      [1, 'A', [`${images.url}/img/rocket.jpg`, `${images.url}/img/chelsea.png`]]
    ]
    const { status, body } = await upload(service.apiUrl, csvOf(rows), {
      quality: 'auto:good',
      format: 'jpeg',
      webhook_url: `${receiver.url}/hook`
    })
    t.equal(status, 202)
    const doc = await waitForStatus(service, body.request_id, ['Completed'], 120_000)
    for (const image of doc.images) {
      t.ok(
        typeof image.score === 'number' && typeof image.quality === 'number',
        `${image.url}: score ${image.score} at quality ${image.quality}`
      )
    }
    const view = (await (await fetch(`${service.apiUrl}/status/${body.request_id}`)).json()) as StatusView
    const scores = doc.images.map((i) => i.score as number)
    t.equal(view.totals.score_min, Math.min(...scores))
    t.equal(view.totals.score_mean, Math.round((scores.reduce((a, b) => a + b, 0) / scores.length) * 100) / 100)
    t.equal(view.products.items[0].images[0].score, doc.images[0]!.score)
    await waitFor('the webhook', () => receiver.received.length === 1)
    t.same(JSON.parse(receiver.received[0]!.body).totals, view.totals, 'the webhook totals are the status totals')
  }
)
