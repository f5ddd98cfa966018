import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { ROOT } from './support/paths.ts'
import { freePort } from './support/servers.ts'

/** scripts/embedded-mongo.mjs as `npm start` runs it: kept data, a port, and a command that uses MONGODB_URI. */
function run(data: string, port: number, script: string): Promise<{ code: number; output: string; ms: number }> {
  const started = performance.now()
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['scripts/embedded-mongo.mjs', '--data', data, '--port', String(port), '--', process.execPath, '-e', script],
      { cwd: ROOT, env: { ...process.env, MONGODB_URI: '' }, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
          output: stdout + stderr,
          ms: performance.now() - started
        })
    )
  })
}

const client = (body: string) => `
  const { MongoClient } = require('mongodb')
  ;(async () => {
    const client = await MongoClient.connect(process.env.MONGODB_URI, { serverSelectionTimeoutMS: 10000 })
    const products = client.db('imgproc_embedded_test').collection('products')
    ${body}
    await client.close()
  })().catch((err) => { console.error(err.message); process.exit(3) })`

t.test('npm start after MONGO_PORT changed: the kept replica set follows the port, data intact', async (t) => {
  const data = await mkdtemp(path.join(tmpdir(), 'imgproc-embedded-'))
  t.teardown(() => rm(data, { recursive: true, force: true }))
  const [first, second] = [await freePort(), await freePort()]
  const made = await run(data, first, client(`await products.insertOne({ name: 'kept' })`))
  t.equal(made.code, 0, made.output)

  const moved = await run(
    data,
    second,
    client(`console.log('found', (await products.findOne({ name: 'kept' }))?.name, process.env.MONGODB_URI)`)
  )
  t.equal(moved.code, 0, moved.output)
  t.match(
    moved.output,
    new RegExp(`was served on 127\\.0\\.0\\.1:${first}; its replica set now uses 127\\.0\\.0\\.1:${second}`)
  )
  t.match(moved.output, new RegExp(`found kept mongodb://127\\.0\\.0\\.1:${second}/`))
  t.comment(`restarted on the new port in ${(moved.ms / 1000).toFixed(1)} s`)

  const again = await run(data, second, client(`console.log('count', await products.countDocuments())`))
  t.equal(again.code, 0, again.output)
  t.match(again.output, /count 1/)
  t.notMatch(again.output, /was served on/, 'the same port again: nothing to move')
})
