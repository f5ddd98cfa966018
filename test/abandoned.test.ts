import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import type { Proc } from './support/processes.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

// Images that never arrive: whoever holds their unit is stuck on them when it is killed, every time.
const images = await startImageServer({ '/hang': () => undefined })
t.teardown(() => images.close())

t.test(
  'a work unit that killed its workers MAX_CLAIMS times fails its images with a reason; the request still completes',
  async (t) => {
    const service = await startService({
      workers: 1,
      env: { MAX_CLAIMS: '2', LEASE_MS: '1000', DOWNLOAD_TIMEOUT_MS: '600000', DOWNLOAD_RETRIES: '0' }
    })
    t.teardown(() => service.stop())
    const { body } = await upload(service.apiUrl, csvOf([[1, 'A', [`${images.url}/hang?a`, `${images.url}/hang?b`]]]))
    const live = (w: Proc) => w.child.exitCode === null && w.child.signalCode === null
    for (let kill = 1; kill <= 2; kill++) {
      const holder = await waitFor(`claim ${kill} of the unit`, async () => {
        const d = await service.request(body.request_id)
        const unit = d?.units[0]
        return unit?.state === 'running' && unit.claims === kill ? unit : null
      })
      const worker = service.workers.find((w) => live(w) && w.id === holder.owner)!
      worker.child.kill('SIGKILL')
      await worker.exited
      await service.startWorker()
    }
    const doc = await waitForStatus(service, body.request_id, ['Completed'], 30_000)
    t.match(doc.units[0], {
      state: 'failed',
      claims: 3,
      error: /abandoned: processing was interrupted 2 times \(MAX_CLAIMS=2\)/
    })
    t.same(
      doc.images.map((i) => [i.status, i.error_kind]),
      [
        ['failed', 'abandoned'],
        ['failed', 'abandoned']
      ]
    )
    t.same(doc.counts, { total: 2, succeeded: 0, failed: 2, pending: 0 })
    const status = (await (await fetch(`${service.apiUrl}/status/${body.request_id}`)).json()) as StatusView
    t.match(status.products.items[0].images[0], { status: 'failed', error: /abandoned/ })
  }
)
