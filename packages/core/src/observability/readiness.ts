import { access, constants } from 'node:fs/promises'

export interface Readiness {
  ready: boolean
  body: { status: 'ready' | 'not ready'; checks: { mongodb: string; storage: string } }
}

/** What API and worker answer on /readyz: the database answers a ping and the shared storage is writable. */
export async function checkReadiness(ping: () => Promise<void>, storageDir: string): Promise<Readiness> {
  const [db, storage] = await Promise.allSettled([ping(), access(storageDir, constants.W_OK)])
  const ready = db.status === 'fulfilled' && storage.status === 'fulfilled'
  const checks = { mongodb: db.status === 'fulfilled' ? 'ok' : 'unavailable', storage: storage.status === 'fulfilled' ? 'ok' : 'not writable' }
  return { ready, body: { status: ready ? 'ready' : 'not ready', checks } }
}
