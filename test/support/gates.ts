/**
 * Gates for tests that must stop workers at an exact moment: a worker started from gated-worker.ts calls this
 * server at each pause point of its hooks and waits for the answer; the test decides when (or whether) to give it.
 */
import { createServer } from 'node:http'
import { listen, type TestServer } from './servers.ts'

/** The gated worker's entry point, for startService's `workerScript`. */
export const GATED_WORKER = 'test/support/gated-worker.ts'

/** One worker waiting at a gate. */
export interface GateCall {
  gate: 'before-finish' | 'before-unit-done'
  /** The waiting worker's WORKER_ID. */
  worker: string
  requestId: string
  /** The unit, at before-unit-done. */
  n?: number
  /** Lets the worker go on (nothing happens if it died meanwhile). */
  pass(): void
}

/** `decide` sees every call as it arrives: call `pass()` at once, or keep the call and pass it later. */
export async function startGates(
  decide: (call: GateCall) => void
): Promise<TestServer & { calls: GateCall[]; env: Record<string, string> }> {
  const calls: GateCall[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const n = url.searchParams.get('n')
    const call: GateCall = {
      gate: url.pathname.slice(1) as GateCall['gate'],
      worker: url.searchParams.get('worker') ?? '',
      requestId: url.searchParams.get('request') ?? '',
      ...(n === null ? {} : { n: Number(n) }),
      pass: () => {
        if (!res.destroyed && !res.headersSent) res.writeHead(204).end()
      }
    }
    calls.push(call)
    decide(call)
  })
  const served = await listen(server)
  return { ...served, calls, env: { IMGPROC_TEST_GATES_URL: served.url } }
}
