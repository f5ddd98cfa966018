/**
 * Multi-host: MongoDB, the S3 server, the customer's hosts (images and webhook), the API and three workers each in
 * a network namespace of their own, with their own address and empty temporary directory, joined by a bridge in
 * a hub namespace. Nothing is shared but MongoDB and the bucket. The node namespaces have no default route, so
 * traffic can only reach the test's /24. The test process reaches the bridge through one veth leg to assert.
 *
 * In test/serial: tap runs it alone. Needs root (ip netns); where namespaces cannot be made it fails, never skips.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { CreateBucketCommand, ListMultipartUploadsCommand, paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3'
import { MongoClient } from 'mongodb'
import t from 'tap'
import { VERSITYGW } from '../s3.ts'
import { csvOf } from '../support/csv.ts'
import { snapshot } from '../support/database.ts'
import { CORPUS, ROOT } from '../support/paths.ts'
import { upload, WEBHOOK_SECRET } from '../support/service.ts'
import { waitFor } from '../support/wait.ts'

const IMAGES = 600
const SLOW_MS = 400 // every third image answers after this long: that part of the request is latency-bound
const photos = [
  'flowers.jpeg',
  'rocket.jpg',
  'Landscape_1.jpg',
  'Landscape_2.jpg',
  'Landscape_5.jpg',
  'chelsea.png',
  '4.webp',
  '16-bit-grey-alpha.png'
]

// Unique per run, so parallel runs never clash: namespace names, and the subnet of the host leg.
const run = randomBytes(3).toString('hex')
const usedSubnets = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' })
const octet = [...Array(254).keys()]
  .map((i) => i + 1)
  .sort(() => Math.random() - 0.5)
  .find((n) => !usedSubnets.includes(` 10.213.${n}.`))
if (!octet) throw new Error('no free 10.213.x.0/24 subnet on this host')
const net = `10.213.${octet}`
const HOST_ADDR = `${net}.1`
const HOST_LEG = `imh${run}` // interface names have at most 15 characters
const ns = (name: string) => `imgproc-${run}-${name}`
const HUB = ns('hub')
const nodes = {
  mongo: `${net}.10`,
  s3: `${net}.11`,
  hosts: `${net}.12`,
  api: `${net}.20`,
  w1: `${net}.31`,
  w2: `${net}.32`,
  w3: `${net}.33`
} as const
type NodeName = keyof typeof nodes

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
const made: string[] = []
const procs: Array<{ name: string; child: ChildProcess; exited: Promise<unknown>; output: () => string; tmp: string }> =
  []
const dirs: string[] = []

// Namespaces and processes must not outlive an interrupted run (tap's timeout, Ctrl-C).
function cleanupSync() {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  for (const name of made.splice(0).reverse())
    try {
      ip('netns', 'del', name)
    } catch {
      /* already gone */
    }
  try {
    ip('link', 'del', HOST_LEG)
  } catch {
    /* went with the hub namespace */
  }
}
process.once('exit', cleanupSync)
t.teardown(async () => {
  cleanupSync()
  await Promise.all(procs.map((p) => p.exited))
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

function makeNetwork() {
  ip('netns', 'add', HUB)
  made.push(HUB)
  ip('-n', HUB, 'link', 'set', 'lo', 'up')
  ip('-n', HUB, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', HUB, 'link', 'set', 'br0', 'up')
  Object.entries(nodes).forEach(([name, addr], i) => {
    ip('netns', 'add', ns(name))
    made.push(ns(name))
    ip('-n', ns(name), 'link', 'set', 'lo', 'up')
    ip('-n', HUB, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns(name))
    ip('-n', HUB, 'link', 'set', `p${i}`, 'master', 'br0', 'up')
    ip('-n', ns(name), 'addr', 'add', `${addr}/24`, 'dev', 'eth0')
    ip('-n', ns(name), 'link', 'set', 'eth0', 'up')
  })
  // The test's own leg: only a connected route to the /24 appears on the host, no forwarding.
  ip('link', 'add', HOST_LEG, 'type', 'veth', 'peer', 'name', 'host', 'netns', HUB)
  ip('-n', HUB, 'link', 'set', 'host', 'master', 'br0', 'up')
  ip('addr', 'add', `${HOST_ADDR}/24`, 'dev', HOST_LEG)
  ip('link', 'set', HOST_LEG, 'up')
}

/** An environment without the host's own database, storage or AWS settings: each process gets only what it is given. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (
      v !== undefined &&
      !/^(AWS_|S3_|STORAGE_|MONGODB_|MONGOMS_|IMGPROC_|WEBHOOK_|WORKER_|PORT$|HOST$|PUBLIC_BASE_URL$)/.test(k)
    )
      env[k] = v
  }
  return { ...env, ...extra }
}

/** Starts `command` inside the node's namespace (ip netns exec execs it: the pid is the command's), with a fresh TMPDIR. */
async function startIn(node: NodeName, name: string, command: string[], env: Record<string, string> = {}) {
  const tmp = await mkdtemp(path.join(tmpdir(), `imgproc-mh-${name}-`))
  dirs.push(tmp)
  const child = spawn('ip', ['netns', 'exec', ns(node), ...command], {
    cwd: ROOT,
    env: cleanEnv({ TMPDIR: tmp, ...env }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-200_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const proc = { name, child, exited, output: () => log, tmp }
  procs.push(proc)
  return proc
}
const app = (script: string) => [process.execPath, '--conditions=imgproc-source', '--import', 'tsx', script]

t.test(
  `${IMAGES} images across API, 3 workers, MongoDB and S3 on separate network namespaces; one worker SIGKILLed midway`,
  async (t) => {
    makeNetwork()
    t.comment(`namespaces ${ns('*')} on ${net}.0/24`)
    // No namespace has a way out: its only route is the test's /24.
    const routes = Object.keys(nodes).map((n) =>
      execFileSync('ip', ['-n', ns(n), '-4', 'route', 'show'], { encoding: 'utf8' }).trim()
    )
    t.ok(
      routes.every((r) => r.split('\n').length === 1 && r.startsWith(`${net}.0/24 dev eth0`)),
      'every namespace routes only to the test network'
    )

    // MongoDB: a one-node replica set initiated with its own namespace address, which is what clients are told.
    const { MongoBinary } = await import('mongodb-memory-server-core')
    const mongoBin = await MongoBinary.getPath()
    const mongoTmp = await mkdtemp(path.join(tmpdir(), 'imgproc-mh-mongo-data-'))
    dirs.push(mongoTmp)
    const mongod = await startIn('mongo', 'mongod', [
      mongoBin,
      '--port',
      '27017',
      '--bind_ip',
      nodes.mongo,
      '--dbpath',
      mongoTmp,
      '--replSet',
      'rs0',
      '--quiet'
    ])
    await waitFor(
      'mongod primary',
      async () => {
        if (mongod.child.exitCode !== null) throw new Error(`mongod exited: ${mongod.output()}`)
        const c = await MongoClient.connect(`mongodb://${nodes.mongo}:27017/?directConnection=true`, {
          serverSelectionTimeoutMS: 500
        })
        try {
          const hello = await c.db('admin').command({ hello: 1 })
          if (!hello.setName)
            await c
              .db('admin')
              .command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `${nodes.mongo}:27017` }] } })
              .catch(() => undefined)
          return hello.isWritablePrimary === true
        } finally {
          await c.close()
        }
      },
      60_000,
      250
    )
    const MONGODB_URI = `mongodb://${nodes.mongo}:27017/?replicaSet=rs0`
    const mongo = await MongoClient.connect(MONGODB_URI, { serverSelectionTimeoutMS: 30_000 })
    t.teardown(() => mongo.close())
    const db = mongo.db('imgproc')

    // The S3 server, and a bucket made through the S3 API.
    const s3Dir = await mkdtemp(path.join(tmpdir(), 'imgproc-mh-s3-data-'))
    dirs.push(s3Dir)
    const credentials = { accessKeyId: `mh${run}`, secretAccessKey: randomBytes(16).toString('hex') }
    const s3proc = await startIn('s3', 'versitygw', [
      VERSITYGW,
      '--access',
      credentials.accessKeyId,
      '--secret',
      credentials.secretAccessKey,
      '--port',
      `${nodes.s3}:7070`,
      '--quiet',
      'posix',
      s3Dir
    ])
    const S3_ENDPOINT = `http://${nodes.s3}:7070`
    const s3 = new S3Client({
      endpoint: S3_ENDPOINT,
      region: 'us-east-1',
      credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED'
    })
    t.teardown(() => s3.destroy())
    await waitFor(
      'versitygw to answer',
      async () => {
        if (s3proc.child.exitCode !== null) throw new Error(`versitygw exited: ${s3proc.output()}`)
        return (await fetch(S3_ENDPOINT)).status > 0
      },
      30_000,
      100
    )
    const bucket = `mh-${run}`
    const prefix = 'outputs'
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))

    // The customer's image host and webhook receiver.
    const hostsUrl = `http://${nodes.hosts}:8080`
    const _hosts = await startIn('hosts', 'hosts', [
      process.execPath,
      'test/netns/hosts.mjs',
      nodes.hosts,
      '8080',
      CORPUS
    ])
    await waitFor('image host', async () => (await fetch(`${hostsUrl}/deliveries`)).ok, 15_000)

    const apiUrl = `http://${nodes.api}:3000`
    const common = {
      MONGODB_URI,
      MONGODB_DB: 'imgproc',
      STORAGE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      // Every target is one of the test's own namespaces.
      ALLOW_PRIVATE_NETWORKS: 'true',
      PUBLIC_BASE_URL: apiUrl,
      WEBHOOK_SECRET,
      LOG_LEVEL: 'info'
    }
    const api = await startIn('api', 'api', app('apps/api/src/main.ts'), {
      ...common,
      HOST: nodes.api,
      PORT: '3000',
      LOG_LEVEL: 'warn'
    })
    const workers = await Promise.all(
      (['w1', 'w2', 'w3'] as const).map((w) =>
        startIn(w, w, app('apps/worker/src/main.ts'), {
          ...common,
          HOST: nodes[w],
          WORKER_ID: w,
          WORKER_CONCURRENCY: '2',
          WORK_UNIT_SIZE: '10',
          LEASE_MS: '3000',
          POLL_INTERVAL_MS: '200',
          PROGRESS_FLUSH_MS: '200'
        })
      )
    )
    await Promise.all([
      waitFor(
        'API health',
        async () => {
          if (api.child.exitCode !== null) throw new Error(`API exited: ${api.output()}`)
          return (await fetch(`${apiUrl}/healthz`)).ok
        },
        60_000,
        200
      ),
      ...workers.map((w) =>
        waitFor(
          `${w.name} start`,
          () => {
            if (w.child.exitCode !== null) throw new Error(`${w.name} exited: ${w.output()}`)
            return w.output().includes('worker started')
          },
          60_000,
          200
        )
      )
    ])
    // Each process had an empty temporary directory of its own, and none shares a storage directory.
    t.ok(
      procs.every((p) => p.child.exitCode === null),
      'every process is running'
    )

    // 300 products of two images; every third image is slow to answer.
    const rows = Array.from({ length: IMAGES / 2 }, (_, i): [number, string, string[]] => [
      i + 1,
      `SKU${i + 1}`,
      [0, 1].map((k) => {
        const n = i * 2 + k
        return `${hostsUrl}/img/${photos[n % photos.length]}?i=${n}${n % 3 === 0 ? `&delay=${SLOW_MS}` : ''}`
      })
    ])
    const started = Date.now()
    // reuse=false: the photos repeat under distinct URLs, and this test counts one object per image in the
    // request's own folder (shared outputs are written by the same write-once puts: docs/reuse.md).
    const res = await upload(apiUrl, csvOf(rows), { webhook_url: `${hostsUrl}/hook`, reuse: 'false' })
    t.equal(res.status, 202, 'upload accepted')
    const id: string = res.body.request_id

    // Midway, SIGKILL a worker while it holds a unit.
    const live = workers.filter((w) => w.child.exitCode === null)
    const atKill = await waitFor(
      'half the images, with a worker holding a unit',
      async () => {
        const d = await snapshot(db, id)
        const holder = d?.units.find((u) => u.state === 'running' && live.some((w) => w.name === u.owner))
        return d && d.counts.succeeded >= IMAGES / 2 && holder ? { d, holder } : null
      },
      240_000,
      100
    )
    const victim = workers.find((w) => w.name === atKill.holder.owner)!
    victim.child.kill('SIGKILL')
    await victim.exited
    // Read after the kill: a dead worker changes nothing more, while a snapshot from before it may be stale (the
    // victim can finish a unit and claim another between that read and the signal).
    const afterKill = (await snapshot(db, id))!
    const heldAtKill = afterKill.units
      .filter((u) => u.state === 'running' && u.owner === victim.name)
      .map((u) => u.data.n)
    t.comment(
      `SIGKILLed ${victim.name} at ${atKill.d.counts.succeeded}/${IMAGES} images, ${Date.now() - started} ms in, holding units ${heldAtKill.join(', ')}`
    )

    const done = await waitFor(
      'Completed with the webhook delivered',
      async () => {
        const d = await snapshot(db, id)
        return d?.status === 'Completed' && d.webhook?.state === 'delivered' ? d : null
      },
      300_000,
      200
    )
    const completedMs = (done.completed_at?.getTime() ?? Date.now()) - started
    const takenOver = done.units.filter((u) => u.claims > 1)
    t.comment(
      `${IMAGES} images in ${(completedMs / 1000).toFixed(1)} s: ${(IMAGES / (completedMs / 1000)).toFixed(1)} images/s; ${done.units.length} units, ${takenOver.length} taken over after the kill (${takenOver.map((u) => `${u.data.n}→${u.finished_by}`).join(', ')})`
    )

    // Nothing lost.
    t.same(done.counts, { total: IMAGES, succeeded: IMAGES, failed: 0, pending: 0 }, 'all 600 images succeeded')
    t.ok(takenOver.length >= 1, 'the killed worker’s units were taken over')
    t.ok(
      takenOver.every((u) => u.finished_by !== victim.name),
      'by the surviving workers'
    )
    t.ok(
      heldAtKill.every((n) => takenOver.some((u) => u.data.n === n)),
      'every unit the killed worker held was taken over'
    )

    // Every image has exactly one output in the bucket, listed through the S3 API; no partial upload is left.
    const objects = new Map<string, number>()
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: `${prefix}/${id}/` })) {
      for (const o of page.Contents ?? []) objects.set(o.Key!.slice(`${prefix}/${id}/`.length), o.Size ?? -1)
    }
    const outputs = [...objects.keys()].filter((k) => /^\d+\.\w+$/.test(k))
    t.equal(outputs.length, IMAGES, `${outputs.length} image outputs in the bucket`)
    t.equal(new Set(outputs.map((k) => k.split('.')[0])).size, IMAGES, 'one per image index')
    t.same(
      [...objects.keys()].filter((k) => !outputs.includes(k)),
      ['output.csv'],
      'nothing else but output.csv'
    )
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    t.same(uploads.Uploads ?? [], [], 'no multipart upload left behind')
    t.same(
      done.images
        .map((i) => i.output_file)
        .filter((f) => !f || !objects.has(f.slice(`${id}/`.length)) || !f.startsWith(`${id}/`)),
      [],
      'every image record names its object in the bucket'
    )

    // Every output URL in the CSV downloads through the API host, with the bytes that are in the bucket.
    const csvRes = await fetch(`${apiUrl}/requests/${id}/output.csv`)
    t.equal(csvRes.status, 200, 'output CSV through the API')
    const csv = await csvRes.text()
    const urls = [...new Set(csv.match(/https?:\/\/[^",\s]+\/images\/[^",\s]+/g) ?? [])]
    t.equal(urls.length, IMAGES, `${urls.length} output URLs in the CSV`)
    t.ok(
      urls.every((u) => u.startsWith(`${apiUrl}/images/`)),
      'all through the API host'
    )
    const bad: string[] = []
    let next = 0
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < urls.length) {
          const url = urls[next++]!
          const r = await fetch(url)
          const body = Buffer.from(await r.arrayBuffer())
          if (r.status !== 200 || body.length !== objects.get(url.split('/').pop()!))
            bad.push(`${url}: ${r.status}, ${body.length} bytes`)
        }
      })
    )
    t.same(bad, [], `all ${urls.length} outputs download through the API with the bucket's bytes`)

    // The webhook was sent exactly once: one delivery, one event id (given time for a stray redelivery to arrive).
    await delay(2000)
    const seen = (await (await fetch(`${hostsUrl}/deliveries`)).json()) as {
      deliveries: Array<{ headers: Record<string, string>; body: string }>
      imageRequests: number
    }
    t.equal(seen.deliveries.length, 1, 'one webhook delivery')
    const eventIds = new Set(seen.deliveries.map((d) => JSON.parse(d.body).event_id))
    t.equal(eventIds.size, 1, 'one event id')
    t.equal(seen.deliveries[0]?.headers['webhook-id'], [...eventIds][0], 'the webhook-id header is the event id')
    // Figures for sizing (docs/deploying.md#sizing): peak memory of each process, and the database's size.
    const peak = (p: (typeof procs)[number]) =>
      /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1]
    t.comment(
      `peak RSS (MB): ${procs
        .filter((p) => p.child.exitCode === null && p.child.signalCode === null)
        .map((p) => `${p.name} ${Math.round(Number(peak(p)) / 1024)}`)
        .join(', ')}`
    )
    const stats = await db.stats()
    t.comment(
      `MongoDB data for ${IMAGES} images: ${Math.round(stats.dataSize / 1024)} KB (${Math.round(stats.indexSize / 1024)} KB indexes)`
    )
    t.comment(
      `${seen.imageRequests} image fetches for ${IMAGES} images (${seen.imageRequests - IMAGES} again after the kill: in flight, not yet recorded)`
    )
  }
)
