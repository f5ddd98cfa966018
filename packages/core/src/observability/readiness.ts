export interface Readiness {
  ready: boolean
  body: { status: 'ready' | 'not ready'; checks: { mongodb: string; storage: string } }
}

/** What readiness needs of the storage: the storage port's start-up check (`Storage.check`). */
export interface StorageCheck {
  check(options?: { write?: boolean }): Promise<void>
}

/**
 * What API and worker answer on /readyz: the database answers a ping and the storage passes its check (a
 * directory is writable, a bucket answers).
 */
export async function checkReadiness(
  ping: () => Promise<void>,
  storage: StorageCheck,
  options: { write?: boolean } = {}
): Promise<Readiness> {
  const [db, store] = await Promise.allSettled([ping(), storage.check(options)])
  const ready = db.status === 'fulfilled' && store.status === 'fulfilled'
  const checks = {
    mongodb: db.status === 'fulfilled' ? 'ok' : 'unavailable',
    storage: store.status === 'fulfilled' ? 'ok' : storageFailure(store.reason)
  }
  return { ready, body: { status: ready ? 'ready' : 'not ready', checks } }
}

function storageFailure(reason: unknown): string {
  return (reason as { kind?: string }).kind ?? 'not writable'
}
