import {
  type Config,
  type CreationPauses,
  createMongoClient,
  QuotaStore,
  RequestStore,
  StartupError
} from '@imgproc/core'
import { checkStorage, createStorage, type StorageError } from '@imgproc/storage'
import { buildApp } from './app.ts'
import { startCreationSweep } from './creation-sweep.ts'

/**
 * Wires the API from its configuration and starts listening. `creationPauses` is for the crash test only, which
 * starts the API through an entry point of its own (test/support/gated-api.ts); production passes none.
 */
export async function startApi(config: Config, creationPauses: CreationPauses = {}) {
  // The API only reads outputs; a bucket it cannot reach would fail every download, so it refuses to start.
  const storage = await createStorage(config)
  await checkStorage(storage).catch((err: StorageError) => {
    throw new StartupError(`storage check failed (${err.kind}): ${err.message}`, { cause: err })
  })
  // Not awaited: the API starts and answers 503 while the database is away; the driver connects on first use.
  const client = createMongoClient(config.MONGODB_URI, 'imgproc-api')
  const requests = new RequestStore(client.db(config.MONGODB_DB))
  const quotas = new QuotaStore(client.db(config.MONGODB_DB))
  const app = await buildApp({ config, requests, storage, quotas, creationPauses })
  Promise.all([requests.ensureIndexes(), quotas.ensureIndexes()]).catch((err: Error) =>
    app.log.warn({ err: err.message }, 'could not create indexes yet; the worker creates them too')
  )

  await app.listen({ port: config.PORT, host: config.HOST })
  const stopSweep = startCreationSweep(requests, config, app.metrics, app.log)
  app.log.info({ url: config.PUBLIC_BASE_URL }, 'API ready')
  return {
    app,
    /** Drains in-flight requests, then closes every connection. */
    async stop() {
      stopSweep()
      await app.close()
      await client.close().catch(() => undefined)
      await storage.close()
    }
  }
}
