/**
 * A real S3 server for tests: versitygw (Apache-2.0) over a temporary directory, on a free loopback port.
 * Installed by scripts/install-versitygw.sh; when it is missing the test fails, it is never skipped.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { ROOT } from './support/paths.ts'
import { freePort } from './support/servers.ts'
import { waitFor } from './support/wait.ts'

export const VERSITYGW = process.env.VERSITYGW_BIN ?? path.join(ROOT, '.tools/bin/versitygw')

export interface S3Server {
  endpoint: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  /** A client with the root credentials, for setting up and inspecting buckets. */
  client: S3Client
  /** Creates a bucket with a fresh name and returns the name. */
  createBucket(): Promise<string>
  /** Environment for an API or worker child process using `bucket` (credentials through the AWS default chain). */
  env(bucket: string, prefix?: string): Record<string, string>
  output(): string
  /** An outage: the gateway is killed (connections are refused); `up` starts it again with the same objects. */
  down(): Promise<void>
  up(): Promise<void>
  stop(): Promise<void>
}

export async function startS3Server(): Promise<S3Server> {
  if (!existsSync(VERSITYGW)) {
    throw new Error(`versitygw not found at ${VERSITYGW}: run scripts/install-versitygw.sh (or set VERSITYGW_BIN)`)
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'imgproc-s3-'))
  const port = await freePort()
  const credentials = {
    accessKeyId: `test${randomBytes(4).toString('hex')}`,
    secretAccessKey: randomBytes(16).toString('hex')
  }
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-50_000)
  }
  const endpoint = `http://127.0.0.1:${port}`
  const region = 'us-east-1'
  let gateway: { child: ChildProcess; exited: Promise<void> } | null = null
  const kill = () => gateway?.child.kill('SIGKILL')
  process.once('exit', kill)
  // The gateway over `dir`: started again after `down`, it serves the same objects on the same port.
  const launch = async () => {
    const child = spawn(
      VERSITYGW,
      [
        '--access',
        credentials.accessKeyId,
        '--secret',
        credentials.secretAccessKey,
        '--port',
        `127.0.0.1:${port}`,
        '--quiet',
        'posix',
        dir
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    gateway = { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) }
    await waitFor(
      'versitygw to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}: ${log}`)
        return (await fetch(endpoint)).status > 0
      },
      20_000,
      50
    )
  }
  const down = async () => {
    kill()
    await gateway?.exited
  }

  const client = new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
  try {
    await launch()
  } catch (err) {
    kill()
    throw err
  }
  return {
    endpoint,
    region,
    credentials,
    client,
    async createBucket() {
      const bucket = `t-${randomBytes(6).toString('hex')}`
      await client.send(new CreateBucketCommand({ Bucket: bucket }))
      return bucket
    },
    env: (bucket, prefix = '') => ({
      STORAGE_URL: `s3://${bucket}${prefix ? `/${prefix}` : ''}`,
      S3_ENDPOINT: endpoint,
      S3_REGION: region,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey
    }),
    output: () => log,
    down,
    up: launch,
    async stop() {
      client.destroy()
      await down()
      process.removeListener('exit', kill)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
