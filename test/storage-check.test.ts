/**
 * Start-up check: a missing bucket, refused credentials and an unreachable endpoint each get a message an operator
 * can act on, and the API and the worker refuse to start on them (a real versitygw; the API as a child process).
 */

import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { loadConfig } from '@imgproc/core'
import { checkStorage, createStorage, FileStorage } from '@imgproc/storage'
import { S3Storage } from '@imgproc/storage/s3'
import t from 'tap'
import { startS3Server } from './s3.ts'
import { mongoUri } from './support/database.ts'
import { ROOT } from './support/paths.ts'
import { freePort } from './support/servers.ts'

const s3 = await startS3Server()
t.teardown(() => s3.stop())
const bucket = await s3.createBucket()
const options = {
  bucket,
  prefix: 'p',
  endpoint: s3.endpoint,
  region: s3.region,
  forcePathStyle: true,
  credentials: s3.credentials
}

t.test('a good bucket passes, for reading and writing, with credentials from the AWS default chain', async (t) => {
  const env = s3.env(bucket, 'p')
  // The default chain reads the process environment; these are this test process's own.
  process.env.AWS_ACCESS_KEY_ID = env.AWS_ACCESS_KEY_ID
  process.env.AWS_SECRET_ACCESS_KEY = env.AWS_SECRET_ACCESS_KEY
  const storage = await createStorage(loadConfig(env))
  t.teardown(() => storage.close())
  await t.resolves(checkStorage(storage, { write: true }))
})

t.test('a missing bucket', async (t) => {
  const storage = new S3Storage({ ...options, bucket: 'no-such-bucket' })
  t.teardown(() => storage.close())
  await t.rejects(checkStorage(storage), {
    name: 'StorageError',
    kind: 'missing-bucket',
    message: `bucket "no-such-bucket" does not exist at ${s3.endpoint} (S3_ENDPOINT); create it, or correct STORAGE_URL`
  })
})

t.test('refused credentials', async (t) => {
  const wrongSecret = new S3Storage({
    ...options,
    credentials: { ...s3.credentials, secretAccessKey: 'not-the-secret-0000' }
  })
  const unknownKey = new S3Storage({
    ...options,
    credentials: { accessKeyId: 'nobody', secretAccessKey: 'not-the-secret-0000' }
  })
  t.teardown(() => Promise.all([wrongSecret.close(), unknownKey.close()]))
  for (const storage of [wrongSecret, unknownKey]) {
    await t.rejects(checkStorage(storage), {
      kind: 'denied',
      message: new RegExp(
        `^access to bucket "${bucket}" at ${s3.endpoint} \\(S3_ENDPOINT\\) was denied while checking the bucket \\(.+\\); check the credentials \\(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`
      )
    })
  }
})

t.test('an unreachable endpoint', async (t) => {
  const closed = `http://127.0.0.1:${await freePort()}`
  const storage = new S3Storage({ ...options, endpoint: closed })
  t.teardown(() => storage.close())
  const started = Date.now()
  await t.rejects(checkStorage(storage), {
    kind: 'unreachable',
    message: new RegExp(
      `^cannot reach S3 at ${closed} \\(S3_ENDPOINT\\) while checking the bucket \\(.*ECONNREFUSED.*\\); check S3_ENDPOINT and the network$`
    )
  })
  t.ok(Date.now() - started < 10_000, 'and says so promptly')
  const virtualHosted = new S3Storage({ ...options, endpoint: closed, forcePathStyle: false })
  t.teardown(() => virtualHosted.close())
  await t.rejects(checkStorage(virtualHosted), {
    kind: 'unreachable',
    message: /most non-AWS servers also need S3_FORCE_PATH_STYLE=true$/
  })
})

t.test('a storage directory that cannot be created', async (t) => {
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'imgproc-check-')), 'a-file')
  await writeFile(file, '')
  await t.rejects(checkStorage(new FileStorage(path.join(file, 'storage')), { write: true }), {
    kind: 'not-writable',
    message: /^storage directory .*a-file\/storage is not writable: ENOTDIR/
  })
})

for (const [name, entry] of [
  ['API', 'apps/api/src/main.ts'],
  ['worker', 'apps/worker/src/main.ts']
] as const) {
  t.test(`the ${name} refuses to start on a missing bucket, with the message and exit code 1`, async (t) => {
    const env = {
      ...process.env,
      ...s3.env('missing-bucket'),
      PORT: String(await freePort()),
      MONGODB_URI: mongoUri(),
      LOG_LEVEL: 'warn'
    }
    const child = spawn(process.execPath, ['--conditions=imgproc-source', '--import', 'tsx', entry], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let output = ''
    child.stdout.on('data', (c: Buffer) => (output += c))
    child.stderr.on('data', (c: Buffer) => (output += c))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    t.equal(code, 1, output)
    t.match(
      output,
      /storage check failed \(missing-bucket\): bucket "missing-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+ \(S3_ENDPOINT\)/
    )
    t.notMatch(output, /\n\s+at /, 'a message for the operator, not a stack trace')
  })
}
