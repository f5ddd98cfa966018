import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { FileStorage } from '@imgproc/storage'
import t from 'tap'
import { specApp, unreachableStore } from '../../test/spec-app.ts'

t.test('/healthz answers while the process is up; /readyz when MongoDB and storage answer', async (t) => {
  const { app } = await specApp(t)
  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject('/readyz')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { mongodb: 'ok', storage: 'ok' } })
})

t.test('/readyz says which dependency is down', async (t) => {
  const { app, dir } = await specApp(t)
  // A storage directory that cannot exist: its parent is a file.
  const file = path.join(dir, 'a-file')
  await writeFile(file, '')
  const broken = await specApp(t, {}, { storage: new FileStorage(path.join(file, 'storage')) })
  const storageDown = await broken.app.inject('/readyz')
  t.equal(storageDown.statusCode, 503)
  t.same(storageDown.json(), { status: 'not ready', checks: { mongodb: 'ok', storage: 'not-writable' } })

  const away = await specApp(t, {}, { requests: unreachableStore(t) })
  const dbDown = await away.app.inject('/readyz')
  t.equal(dbDown.statusCode, 503)
  t.same(dbDown.json(), { status: 'not ready', checks: { mongodb: 'unavailable', storage: 'ok' } })
  t.equal((await away.app.inject('/healthz')).statusCode, 200, 'the process itself is up')
  t.equal((await app.inject('/readyz')).statusCode, 200)
})
