/**
 * An API whose request creation waits at the test's gates (gates.ts) before its commit and before releasing the
 * units: the same wiring as apps/api/src/main.ts, with pauses that production never has. Test code only: the
 * API bundle holds none of it (test/worker-bundle.test.ts).
 */
import { loadConfigOrExit } from '@imgproc/core'
import { startApi } from '../../apps/api/src/start.ts'

const gates = process.env.IMGPROC_TEST_GATES_URL
if (!gates) throw new Error('IMGPROC_TEST_GATES_URL is not set: start this API through startService with gates')

/** Waits until the test lets this API through `gate` (or kills it waiting there). */
async function gate(name: string, requestId: string): Promise<void> {
  const res = await fetch(`${gates}/${name}?${new URLSearchParams({ worker: 'api', request: requestId })}`)
  await res.arrayBuffer()
}

await startApi(loadConfigOrExit(), {
  beforeCommit: (requestId) => gate('before-commit', requestId),
  beforeRelease: (requestId) => gate('before-release', requestId)
})
