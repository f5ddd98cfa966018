export interface Readiness {
  ready: boolean
  body: {
    status: 'ready' | 'not ready'
    checks: { mongodb: string; storage: string }
    /** Why a check failed, in words an operator acts on (the worker's internal port only: it names paths and hosts). */
    reasons?: { storage?: string }
  }
}

/** What readiness needs of the storage: the storage port's start-up check (`Storage.check`). */
export interface StorageCheck {
  check(options?: { write?: boolean }): Promise<void>
}

/** Storage failing as the work has seen it (StorageHealth in @imgproc/storage). */
export interface StorageFailing {
  kind: string
  reason: string
  since: Date
}

/**
 * What API and worker answer on /readyz: the database answers a ping and the storage passes its check (a
 * directory is writable, a bucket answers). A worker also passes `failing`: a probe can pass while the work's
 * writes fail (a disk with room for a probe but not for an image), so what the work saw last counts too.
 */
export async function checkReadiness(
  ping: () => Promise<void>,
  storage: StorageCheck,
  options: { write?: boolean; failing?: () => StorageFailing | null; reasons?: boolean } = {}
): Promise<Readiness> {
  const [db, store] = await Promise.allSettled([ping(), storage.check({ write: options.write ?? false })])
  const failing =
    options.failing?.() ??
    (store.status === 'rejected'
      ? { kind: storageFailure(store.reason), reason: (store.reason as Error).message, since: null }
      : null)
  const ready = db.status === 'fulfilled' && !failing
  const checks = { mongodb: db.status === 'fulfilled' ? 'ok' : 'unavailable', storage: failing?.kind ?? 'ok' }
  const reason = failing && `${failing.reason}${failing.since ? ` (failing since ${failing.since.toISOString()})` : ''}`
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'not ready',
      checks,
      ...(options.reasons && reason ? { reasons: { storage: reason } } : {})
    }
  }
}

function storageFailure(reason: unknown): string {
  return (reason as { kind?: string }).kind ?? 'not writable'
}
