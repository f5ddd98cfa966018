import { setTimeout as delay } from 'node:timers/promises'
import type { RequestRepository } from '@imgproc/core'

export interface IdleOptions {
  /** How often the work signal is read (cheap: one tiny document). */
  pollMs: number
  /** Longest wait without a scan of `requests`: bounds how late an expired lease is noticed. */
  maxIdleMs: number
  signal: AbortSignal
}

/**
 * Idles until there may be something to claim: the work signal moved past `seen` (an upload, a released
 * lease), `maxIdleMs` passed, or shutdown. A database that is away keeps the worker idling here; the next
 * claim attempt reports it.
 */
export async function waitForWork(repo: Pick<RequestRepository, 'workSignal'>, seen: number, options: IdleOptions): Promise<void> {
  const until = Date.now() + options.maxIdleMs
  while (!options.signal.aborted && Date.now() < until) {
    await delay(Math.min(options.pollMs, until - Date.now()), undefined, { signal: options.signal }).catch(() => undefined)
    if (options.signal.aborted) return
    if ((await repo.workSignal().catch(() => seen)) !== seen) return
  }
}
