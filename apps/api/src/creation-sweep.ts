import type { Config, CreationsSettled, Metrics, RequestStore } from '@imgproc/core'
import type { FastifyBaseLogger } from 'fastify'

/**
 * Settles the request creations an API died in (RequestStore.settleCreations), as every API replica does every
 * quarter of UPLOAD_STAGING_TIMEOUT_MS, first at start: a staged request is gone, unseen, within 1.25 times the
 * timeout of its upload's death. Cancels and retries an API died inside are carried out by the same sweep.
 * Replicas sweeping at once do no harm: every step is conditional and repeatable.
 */
export function startCreationSweep(
  store: RequestStore,
  config: Pick<Config, 'UPLOAD_STAGING_TIMEOUT_MS'>,
  metrics: Pick<Metrics, 'creationsSettled'>,
  log: FastifyBaseLogger
): () => void {
  const everyMs = Math.max(250, Math.floor(config.UPLOAD_STAGING_TIMEOUT_MS / 4))
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const sweep = async () => {
    try {
      const cutoff = new Date(Date.now() - config.UPLOAD_STAGING_TIMEOUT_MS)
      const settled = await store.settleCreations(cutoff)
      for (const outcome of Object.keys(settled) as Array<keyof CreationsSettled>)
        if (settled[outcome] > 0) metrics.creationsSettled.inc({ outcome }, settled[outcome])
      if (settled.discarded + settled.released + settled.orphaned > 0)
        log.info(settled, 'settled request creations that an API died in')
      // Cancels whose output CSV is not written yet are gone over again (quietly: usually their finisher is only
      // waiting for a worker); a retry still noted is one an API died inside.
      const interrupted = await store.management.settleInterrupted(cutoff)
      if (interrupted.retries > 0) log.info(interrupted, 'carried out retries that an API died inside')
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not settle request creations; trying again later')
    }
    if (!stopped) timer = setTimeout(sweep, everyMs)
  }
  void sweep()
  return () => {
    stopped = true
    clearTimeout(timer)
  }
}
