// Runs a command with MONGODB_URI pointing at an embedded single-node MongoDB replica set (the project's default
// database), and stops the database when the command ends.
//   node scripts/embedded-mongo.mjs [--data DIR --port N] -- command args…
// With --data the data outlives the run (npm start); without, it is a throwaway for one test or bench run.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, rmSync } from 'node:fs'
import { MongoMemoryReplSet } from 'mongodb-memory-server-core'

const args = process.argv.slice(2)
const option = (name) => {
  const at = args.indexOf(name)
  return at >= 0 && at < args.indexOf('--') ? args[at + 1] : undefined
}
const dbPath = option('--data')
const port = option('--port')
const command = args.slice(args.indexOf('--') + 1)
if (dbPath) mkdirSync(dbPath, { recursive: true })

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
