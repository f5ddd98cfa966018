/**
 * Gates for tests that must stop a worker or the API at an exact moment: a process started from gated-worker.ts
 * or gated-api.ts calls this server at each pause point of its hooks and waits for the answer; the test decides
 * when (or whether) to give it.
 */
import { createServer } from 'node:http'
import { listen, type TestServer } from './servers.ts'

/** The gated worker's entry point, for startService's `workerScript`. */
export const GATED_WORKER = 'test/support/gated-worker.ts'
/** The gated API's entry point, for startService's `apiScript`. */
export const GATED_API = 'test/support/gated-api.ts'

/** One worker (or the API) waiting at a gate. */
export interface GateCall {
  gate: 'before-finish' | 'before-unit-done' | 'before-commit' | 'before-release'
  /** The waiting worker's WORKER_ID, or `api`. */
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
