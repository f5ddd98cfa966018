// Runs a command with MONGODB_URI pointing at an embedded single-node MongoDB replica set (the project's default
// database), and stops the database when the command ends.
//   node scripts/embedded-mongo.mjs [--data DIR --port N] -- command args…
// With --data the data outlives the run (npm start); without, it is a throwaway for one test or bench run.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { MongoClient } from 'mongodb'
import { MongoBinary, MongoMemoryReplSet } from 'mongodb-memory-server-core'

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at >= 0 && at < args.indexOf('--') ? args[at + 1] : undefined
}
const dbPath = option('--data')
const port = option('--port')
const command = args.slice(args.indexOf('--') + 1)
if (dbPath) mkdirSync(dbPath, { recursive: true })
if (dbPath && port) await followPort(dbPath, Number(port))

const replSet = await MongoMemoryReplSet.create({
  replSet: { count: 1, name: 'rs0', storageEngine: 'wiredTiger' },
  instanceOpts: [
    { ...(dbPath ? { dbPath } : {}), ...(port ? { port: Number(port) } : {}), storageEngine: 'wiredTiger' }
  ]
})
const uri = replSet.getUri()
const mongod = replSet.servers[0]?.instanceInfo?.instance?.mongodProcess
const mongodPid = mongod?.pid
const child = spawn(command[0], command.slice(1), {
  stdio: 'inherit',
  env: { ...process.env, MONGODB_URI: uri, ...(mongodPid ? { MONGOD_PID: String(mongodPid) } : {}) }
})
let stopping = false
let interrupted = false
const stop = async (code) => {
  if (stopping) return
  stopping = true
  // Ctrl-C reaches mongod too (same process group): give it a moment to finish its own clean shutdown.
  if (interrupted && mongod && mongod.exitCode === null)
    await Promise.race([once(mongod, 'exit'), new Promise((r) => setTimeout(r, 5000))])
  if (mongod && mongod.exitCode === null && mongod.signalCode === null)
    await replSet.stop({ doCleanup: !dbPath, force: false }).catch(() => undefined)
  else if (!dbPath)
    rmSync(replSet.servers[0].instanceInfo?.dbPath ?? replSet.servers[0].opts.instance?.dbPath ?? '/nonexistent', {
      recursive: true,
      force: true
    })
  process.exit(code)
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    interrupted ||= signal === 'SIGINT'
    child.kill(signal)
  })
}
child.on('exit', (code, signal) => stop(code ?? (signal ? 1 : 0)))
// `npm start` stopped with SIGTERM kills only its shell, which passes nothing on: when our parent is gone, stop too.
const parent = process.ppid
setInterval(() => process.ppid !== parent && child.kill('SIGTERM'), 1000).unref()

/**
 * A replica set remembers its members' host:port in its data. Started on another port (MONGO_PORT changed), the
 * node finds itself missing from its own config and never becomes primary. So when the data was last served on
 * another port (or it is not known which), the member is moved to this port first: mongod alone on the new port,
 * a forced reconfig (allowed on a node that is not in its config), a clean shutdown. The port that worked is kept
 * beside the data, so this runs once per change.
 */
async function followPort(dir, port) {
  const marker = path.join(dir, 'imgproc-port')
  const host = `127.0.0.1:${port}`
  const hasData = existsSync(path.join(dir, 'WiredTiger'))
  const known = existsSync(marker) ? readFileSync(marker, 'utf8').trim() : null
  if (hasData && known !== host) {
    const mongod = spawn(
      await MongoBinary.getPath(),
      ['--port', String(port), '--bind_ip', '127.0.0.1', '--dbpath', dir, '--replSet', 'rs0', '--quiet'],
      { stdio: 'ignore' }
    )
    const exited = once(mongod, 'exit')
    try {
      const client = await connectWhenUp(port, mongod)
      try {
        const admin = client.db('admin')
        const { parsed } = await admin.command({ getCmdLineOpts: 1 })
        if (path.resolve(parsed?.storage?.dbPath ?? '') !== path.resolve(dir))
          throw new Error(`port ${port} is taken by another mongod`)
        const { config } = await admin.command({ replSetGetConfig: 1 }).catch(() => ({ config: null }))
        const was = config?.members?.[0]?.host
        if (config && was !== host) {
          config.members[0].host = host
          config.version += 1
          await admin.command({ replSetReconfig: config, force: true })
          console.error(`embedded MongoDB: the data in ${dir} was served on ${was}; its replica set now uses ${host}`)
        }
        await admin.command({ shutdown: 1 }).catch(() => undefined) // the connection drops as it exits
      } finally {
        await client.close().catch(() => undefined)
      }
      await exited
    } catch (err) {
      mongod.kill('SIGKILL')
      console.error(
        `embedded MongoDB: could not move the data in ${dir} to port ${port} (${err.message}).\n` +
          `  Start once more with the port it had${known ? ` (MONGO_PORT=${known.split(':')[1]})` : ''}, ` +
          `or remove ${dir} to start with an empty database.`
      )
      process.exit(1)
    }
  }
  // Written before the replica set starts: a start that fails for another reason leaves the port known already.
  writeFileSync(marker, `${host}\n`)
}

async function connectWhenUp(port, mongod) {
  for (let attempt = 0; attempt < 150; attempt++) {
    if (mongod.exitCode !== null) throw new Error(`mongod exited with code ${mongod.exitCode} (is port ${port} free?)`)
    try {
      return await MongoClient.connect(`mongodb://127.0.0.1:${port}/?directConnection=true`, {
        serverSelectionTimeoutMS: 500
      })
    } catch {
      await delay(200)
    }
  }
  throw new Error('mongod did not answer within 30 s')
}
