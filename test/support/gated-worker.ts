/**
 * A worker whose pause hooks wait at the test's gates (gates.ts): the same wiring as apps/worker/src/main.ts, with
 * hooks that production never has. Test code only: the worker bundle holds none of it (test/worker-bundle.test.ts).
 */
import { loadConfigOrExit } from '@imgproc/core'
import { startWorker } from '../../apps/worker/src/start.ts'

const gates = process.env.IMGPROC_TEST_GATES_URL
if (!gates) throw new Error('IMGPROC_TEST_GATES_URL is not set: start this worker through startService with gates')
const config = loadConfigOrExit()

/** Waits until the test lets this worker through `gate`. */
async function gate(name: string, params: Record<string, string>): Promise<void> {
  const query = new URLSearchParams({ worker: config.WORKER_ID, ...params })
  // The test holds a gate as long as it needs to, or kills the worker waiting at it.
  const res = await fetch(`${gates}/${name}?${query}`)
  await res.arrayBuffer()
}

await startWorker(config, {
  beforeFinish: (requestId) => gate('before-finish', { request: requestId }),
  beforeUnitDone: (requestId, n) => gate('before-unit-done', { request: requestId, n: String(n) })
})
