/** MongoDB as the tests see it: the run's server, a request read back whole, and mongods of a test's own. */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import {
  type Counts,
  type DeliveryData,
  type ImageRecord,
  type JobDocument,
  type RequestDocument,
  RequestStore,
  type UnitData
} from '@imgproc/core'
import { type Db, MongoClient } from 'mongodb'
import { adopt } from './processes.ts'
import { freePort } from './servers.ts'
import { waitFor } from './wait.ts'

export function mongoUri(): string {
  const uri = process.env.MONGODB_URI
  if (!uri) throw new Error('MONGODB_URI is not set: run the tests through `npm test`, which starts MongoDB')
  return uri
}

/**
 * A request as the tests look at it: the request document, every image record in order (from its work units),
 * counters summed over the units, its units, its finisher and its webhook delivery.
 */
export interface RequestSnapshot extends Omit<RequestDocument, 'images' | 'units'> {
  summary: RequestDocument['images']
  images: ImageRecord[]
  counts: Counts
  units: JobDocument<UnitData>[]
  finisher: JobDocument | null
  webhook: (DeliveryData & { job: JobDocument<DeliveryData> }) | null
}

/** Reads a request back through the store's typed reads: no collection or job key is spelled out here. */
export async function snapshot(db: Db | RequestStore, id: string): Promise<RequestSnapshot | null> {
  const store = db instanceof RequestStore ? db : new RequestStore(db)
  const doc = await store.find(id)
  if (!doc) return null
  const units = await store.jobs.units(id)
  const images = units.flatMap((u) => u.data.images)
  const succeeded = images.filter((i) => i.status === 'succeeded').length
  const failed = images.filter((i) => i.status === 'failed').length
  const webhookJob = await store.jobs.delivery(id, doc.round) // the current round's
  return {
    ...doc,
    summary: doc.images,
    images,
    counts: { total: doc.images.total, succeeded, failed, pending: doc.images.total - succeeded - failed },
    units,
    finisher: await store.jobs.finisher(id),
    webhook: webhookJob ? { ...webhookJob.data, job: webhookJob } : null
  }
}

export interface Mongod {
  uri: string
  port: number
  dbPath: string
  child: ChildProcess
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>
  /** Starts it again on the same port and data. */
  restart(): Promise<void>
}

/**
 * A mongod of the test's own, to kill and restart (outages) or to run without a replica set (standalone). The
 * binary is the one the test setup installed (MONGOMS_SYSTEM_BINARY), or mongodb-memory-server's download.
 */
export async function startMongod(options: { replSet: boolean }): Promise<Mongod> {
  const { MongoBinary } = await import('mongodb-memory-server-core')
  const bin = await MongoBinary.getPath()
  const port = await freePort()
  const dbPath = await mkdtemp(path.join(tmpdir(), 'imgproc-mongod-'))
  const args = [
    '--port',
    String(port),
    '--bind_ip',
    '127.0.0.1',
    '--dbpath',
    dbPath,
    '--quiet',
    ...(options.replSet ? ['--replSet', 'rs0'] : [])
  ]
  const uri = `mongodb://127.0.0.1:${port}/${options.replSet ? '?replicaSet=rs0' : ''}`
  const spawnMongod = async () => {
    const child = adopt(spawn(bin, args, { stdio: 'ignore' }))
    await waitFor(
      'mongod to answer',
      async () => {
        const client = await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
          serverSelectionTimeoutMS: 500
        })
        try {
          if (!options.replSet) return true
          const hello = await client.db('admin').command({ hello: 1 })
          if (!hello.setName)
            await client
              .db('admin')
              .command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${port}` }] } })
              .catch(() => undefined)
          return hello.isWritablePrimary === true
        } finally {
          await client.close()
        }
      },
      30_000,
      200
    )
    return child
  }
  const mongod: Mongod = {
    uri,
    port,
    dbPath,
    child: await spawnMongod(),
    async kill() {
      const exited = new Promise((r) => mongod.child.once('exit', r))
      mongod.child.kill('SIGKILL')
      await exited
    },
    async restart() {
      mongod.child = await spawnMongod()
    }
  }
  return mongod
}
