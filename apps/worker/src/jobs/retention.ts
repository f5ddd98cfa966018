import { type RequestStore, type ReuseIndex, type SweepData, sweepRan } from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import type { Processor } from './contract.ts'

export interface RetentionDeps {
  store: RequestStore
  storage: Storage
  /** Shared (content-addressed) outputs: removed once no request kept refers to them. */
  reuse?: Pick<ReuseIndex, 'claimUnreferenced' | 'forget'>
  /** 0 keeps everything. */
  days: number
  everyMs: number
}

/**
 * The retention sweep: one job for the whole deployment, run through the queue like any other and scheduled
 * again after each run. Files go before documents, so a sweep that dies halfway finds the request next time.
 */
export function retentionProcessor(deps: RetentionDeps): Processor<SweepData> {
  return {
    kind: 'retention',
    concurrency: 1,
    async process(ctx) {
      const now = Date.now()
      let removed = 0
      if (deps.days > 0) {
        const cutoff = new Date(now - deps.days * 86_400_000)
        for (;;) {
          const ids = await deps.store.expiredBefore(cutoff, 100)
          for (const id of ids) {
            if (ctx.signal.aborted) break
            await deps.storage.deletePrefix(`${id}/`)
            await deps.store.remove(id)
            removed++
          }
          if (ids.length < 100 || ctx.signal.aborted) break
        }
        await deps.store.removeWebhookEventsBefore(cutoff)
        if (removed > 0) ctx.log.info({ removed, older_than_days: deps.days }, 'retention: removed finished requests')
        if (deps.reuse && !ctx.signal.aborted) {
          const outputs = await removeUnreferenced(deps, deps.reuse, cutoff, ctx.signal)
          if (outputs > 0) ctx.log.info({ outputs }, 'retention: removed shared outputs no request refers to')
        }
      }
      // A good run forgets earlier crashes: this job lives forever, and crashes months apart must not add up to MAX_CLAIMS.
      return {
        kind: 'retry',
        at: new Date(now + deps.everyMs),
        forgetCrashes: true,
        record: sweepRan(new Date(now), removed)
      }
    },
    async exhausted(ctx, reason) {
      ctx.log.error({ reason }, 'retention sweep keeps dying; skipping this run')
      return { kind: 'retry', at: new Date(Date.now() + deps.everyMs), forgetCrashes: true }
    }
  }
}

/**
 * How far apart the API's clock (a request's created_at) and a worker's (an output's last_ref_at) may be before
 * retention could remove an output a kept request uses (docs/reuse.md). Keeping an unused output an hour longer
 * costs nothing; removing a used one loses a customer's image.
 */
export const CLOCK_SKEW_MARGIN_MS = 3_600_000

/**
 * Shared outputs no kept request refers to: those whose newest reference is older than both the cutoff and the
 * oldest request kept (a request refers to its outputs after it is created), less CLOCK_SKEW_MARGIN_MS. Each is
 * marked first, so no new reference can land on it, then its object goes, then its entry.
 */
async function removeUnreferenced(
  deps: RetentionDeps,
  reuse: NonNullable<RetentionDeps['reuse']>,
  cutoff: Date,
  signal: AbortSignal
): Promise<number> {
  const oldest = await deps.store.oldestCreatedAt()
  const before = new Date((oldest && oldest < cutoff ? oldest : cutoff).getTime() - CLOCK_SKEW_MARGIN_MS)
  let removed = 0
  for (;;) {
    const keys = await reuse.claimUnreferenced(before, 100)
    for (const key of keys) {
      await deps.storage.delete(key)
      await reuse.forget(key)
      removed++
    }
    if (keys.length < 100 || signal.aborted) return removed
  }
}
