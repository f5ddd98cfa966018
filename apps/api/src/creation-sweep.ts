import type { Config, CreationsSettled, Metrics, RequestStore } from '@imgproc/core'
import type { FastifyBaseLogger } from 'fastify'

/**
 * Settles the request creations an API died in (RequestStore.settleCreations), as every API replica does every
 * quarter of UPLOAD_STAGING_TIMEOUT_MS, first at start: a staged request is gone, unseen, within 1.25 times the
 * timeout of its upload's death. Replicas sweeping at once do no harm: every step is conditional and repeatable.
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
      const settled = await store.settleCreations(new Date(Date.now() - config.UPLOAD_STAGING_TIMEOUT_MS))
      for (const outcome of Object.keys(settled) as Array<keyof CreationsSettled>)
        if (settled[outcome] > 0) metrics.creationsSettled.inc({ outcome }, settled[outcome])
      if (settled.discarded + settled.released + settled.orphaned > 0)
        log.info(settled, 'settled request creations that an API died in')
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
