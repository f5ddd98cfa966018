import {
  type Collection,
  type Db,
  type Document,
  MongoClient,
  MongoServerError,
  type OptionalUnlessRequiredId
} from 'mongodb'

const DUPLICATE_KEY = 11000

/** A client that reports a missing database quickly; the driver keeps reconnecting in the background. */
export function createMongoClient(uri: string, appName: string): MongoClient {
  return new MongoClient(uri, { serverSelectionTimeoutMS: 3000, connectTimeoutMS: 3000, appName })
}

export async function connectMongo(
  uri: string,
  dbName: string,
  appName = 'imgproc'
): Promise<{ client: MongoClient; db: Db }> {
  const client = createMongoClient(uri, appName)
  await client.connect()
  return { client, db: client.db(dbName) }
}

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY
}

/** Inserts `doc` unless its unique key exists already: true for the first writer, false for everyone after. */
export async function insertOnce<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>
): Promise<boolean> {
  try {
    await collection.insertOne(doc)
    return true
  } catch (err) {
    if (isDuplicateKey(err)) return false
    throw err
  }
}

/** Inserts what is not there yet (by unique key), in batches so one message never holds a 10 MB request at once. */
export async function insertMissing<T extends Document>(
  collection: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[],
  batch = 500
): Promise<void> {
  for (let i = 0; i < docs.length; i += batch) {
    try {
      await collection.insertMany(docs.slice(i, i + batch), { ordered: false })
    } catch (err) {
      const { writeErrors, errorResponse } = err as {
        writeErrors?: Array<{ code?: number }> | { code?: number }
        errorResponse?: unknown
      }
      const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []
      // A bulk error with no write errors is the network or server failing: surface that, not the wrapper.
      if (list.length === 0) throw errorResponse instanceof Error ? errorResponse : err
      if (list.some((e) => e.code !== DUPLICATE_KEY)) throw err
    }
  }
}

/** Inserts every doc whose unique key is free (one unordered command); the positions of those that were taken. */
export async function insertFree<T extends Document>(
  collection: Collection<T>,
  docs: OptionalUnlessRequiredId<T>[]
): Promise<number[]> {
  if (docs.length === 0) return []
  try {
    await collection.insertMany(docs, { ordered: false })
    return []
  } catch (err) {
    const { writeErrors, errorResponse } = err as {
      writeErrors?: Array<{ code?: number; index: number }> | { code?: number; index: number }
      errorResponse?: unknown
    }
    const list = Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []
    if (list.length === 0) throw errorResponse instanceof Error ? errorResponse : err
    if (list.some((e) => e.code !== DUPLICATE_KEY)) throw err
    return list.map((e) => e.index)
  }
}

/**
 * The database is away (not a bug of ours, not the caller's fault): network and server-selection failures, a
 * primary stepping down or shutting down, also when wrapped (bulk writes wrap the network error). By name, not
 * instanceof: the driver's error classes may come from more than one installed copy of it.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const wrapped = err as { errorResponse?: unknown; cause?: unknown }
  if (isDatabaseUnavailable(wrapped.errorResponse) || isDatabaseUnavailable(wrapped.cause)) return true
  // The driver sometimes lets a bare socket error through ("This socket has been ended by the other party").
  if (['EPIPE', 'ECONNRESET', 'ECONNREFUSED'].includes((err as { code?: string }).code ?? '')) return true
  return (
    /^Mongo/.test(err.name) &&
    /Network|ServerSelection|Topology|PoolCleared|NotPrimary|NotWritablePrimary|ShutdownInProgress|InterruptedAtShutdown|PrimarySteppedDown|ECONNREFUSED|ECONNRESET|closed/.test(
      `${err.name} ${err.message}`
    )
  )
}
