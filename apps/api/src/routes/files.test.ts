import { randomBytes, randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { IMMUTABLE, objectMeta, outputCsvKey, PRIVATE, signOutputUrl } from '@imgproc/core'
import { S3Storage } from '@imgproc/storage/s3'
import t from 'tap'
import { ERROR_KEYS, type SpecApp, specApp } from '../../test/spec-app.ts'

/** Stores what a worker would: an image and the output CSV of request `id`, through the storage port. */
async function stored(spec: SpecApp) {
  const id = randomUUID()
  const image = randomBytes(5000)
  const csv = Buffer.from('S. No.,Product Name,Input Image Urls,Output Image Urls\n1,Shoe,https://a.example/1.jpg,\n')
  await spec.storage.put(`${id}/0.png`, image, objectMeta(`${id}/0.png`))
  await spec.storage.put(`${id}/output.csv`, csv, objectMeta(`${id}/output.csv`))
  return { id, image, csv }
}

t.test('an image: 200, 206, 304, 416 and HEAD, with the headers a cache needs', async (t) => {
  const spec = await specApp(t)
  const { id, image } = await stored(spec)
  const url = `/images/${id}/0.png`
  const get = (headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') =>
    spec.app.inject({ method, url, headers })

  const full = await get()
  t.equal(full.statusCode, 200)
  t.ok(full.rawPayload.equals(image), 'the stored bytes')
  t.match(full.headers, {
    'content-type': 'image/png',
    'content-length': String(image.length),
    'cache-control': IMMUTABLE,
    'accept-ranges': 'bytes',
    'last-modified': /GMT$/,
    etag: /^"[^"]+"$/
  })
  const etag = full.headers.etag as string

  const head = await get({}, 'HEAD')
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], String(image.length))
  t.equal(head.headers.etag, etag)
  t.equal(head.rawPayload.length, 0, 'no body')

  const part = await get({ range: 'bytes=100-199' })
  t.equal(part.statusCode, 206)
  t.equal(part.headers['content-range'], `bytes 100-199/${image.length}`)
  t.equal(part.headers['content-length'], '100')
  t.ok(part.rawPayload.equals(image.subarray(100, 200)))
  const tail = await get({ range: 'bytes=-10' })
  t.ok(tail.rawPayload.equals(image.subarray(image.length - 10)))
  const headPart = await get({ range: 'bytes=0-9' }, 'HEAD')
  t.equal(headPart.statusCode, 206)
  t.equal(headPart.headers['content-range'], `bytes 0-9/${image.length}`)
  t.equal(headPart.rawPayload.length, 0)

  const past = await get({ range: `bytes=${image.length}-` })
  t.equal(past.statusCode, 416)
  t.equal(past.headers['content-range'], `bytes */${image.length}`)
  t.equal(past.rawPayload.length, 0)

  const notModified = await get({ 'if-none-match': etag })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.headers.etag, etag)
  t.equal(notModified.headers['cache-control'], IMMUTABLE)
  t.equal(notModified.rawPayload.length, 0)
  t.equal((await get({ 'if-none-match': etag, range: 'bytes=0-9' })).statusCode, 304, 'a matching tag wins')
  const since = await get({ 'if-modified-since': full.headers['last-modified'] as string })
  t.equal(since.statusCode, 304)
  const changed = await get({ 'if-none-match': '"something-else"' })
  t.equal(changed.statusCode, 200)
  t.ok(changed.rawPayload.equals(image))
})

t.test('the output CSV: private, revalidated, downloaded as a file', async (t) => {
  const spec = await specApp(t)
  const { id, csv } = await stored(spec)
  const res = await spec.app.inject(`/requests/${id}/output.csv`)
  t.equal(res.statusCode, 200)
  t.equal(res.body, csv.toString())
  t.match(res.headers, {
    'content-type': 'text/csv; charset=utf-8',
    'cache-control': PRIVATE,
    'content-disposition': `attachment; filename="${id}.csv"`
  })
  const again = await spec.app.inject({
    url: `/requests/${id}/output.csv`,
    headers: { 'if-none-match': res.headers.etag as string }
  })
  t.equal(again.statusCode, 304)
  t.equal(again.headers['cache-control'], PRIVATE)
})

t.test("a retry's output CSV: its own key, downloaded under the round's name", async (t) => {
  const spec = await specApp(t)
  const { id } = await stored(spec)
  const retried = Buffer.from(
    'S. No.,Product Name,Input Image Urls,Output Image Urls\n1,Shoe,https://a.example/1.jpg,x\n'
  )
  await spec.storage.put(outputCsvKey(id, 1), retried, objectMeta(outputCsvKey(id, 1)))
  const res = await spec.app.inject(`/requests/${id}/r1/output.csv`)
  t.equal(res.statusCode, 200)
  t.equal(res.body, retried.toString())
  t.match(res.headers, { 'cache-control': PRIVATE, 'content-disposition': `attachment; filename="${id}-r1.csv"` })
  t.equal((await spec.app.inject(`/requests/${id}/r2/output.csv`)).statusCode, 404, 'a round not run')
  t.equal((await spec.app.inject(`/requests/${id}/r0/output.csv`)).statusCode, 400, 'round 0 is output.csv')
})

t.test('missing and malformed: 404 and 400 in the error shape', async (t) => {
  const spec = await specApp(t)
  const { id } = await stored(spec)
  for (const [url, status] of [
    [`/images/${id}/1.png`, 404],
    [`/requests/${randomUUID()}/output.csv`, 404],
    [`/images/${id}/0.exe`, 400],
    [`/images/not-a-uuid/0.png`, 400],
    [`/images/${id}/..%2F..%2Fetc%2Fpasswd`, 400],
    [`/images/${id}`, 404]
  ] as const) {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await spec.app.inject({ method, url })
      t.equal(res.statusCode, status, `${method} ${url}`)
      if (method === 'GET') t.same(Object.keys(res.json()).sort(), ERROR_KEYS)
    }
  }
  t.match((await spec.app.inject(`/images/${id}/1.png`)).json(), { message: `nothing stored at ${id}/1.png` })
})

t.test('storage away: 503, the outage named, also for HEAD', async (t) => {
  // An S3 server that is not there: nothing listens on the port.
  const storage = new S3Storage({
    bucket: 'outputs',
    prefix: '',
    endpoint: 'http://127.0.0.1:9',
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'spec', secretAccessKey: 'spec-secret' }
  })
  t.teardown(() => storage.close())
  const spec = await specApp(t, {}, { storage })
  const id = randomUUID()
  const res = await spec.app.inject(`/images/${id}/0.png`)
  t.equal(res.statusCode, 503)
  t.same(res.json(), {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'storage is unavailable; retry shortly'
  })
  t.equal((await spec.app.inject({ method: 'HEAD', url: `/requests/${id}/output.csv` })).statusCode, 503)
  t.equal((await spec.app.inject({ url: `/images/${id}/0.png`, headers: { range: 'bytes=0-1' } })).statusCode, 503)
})

const SIGNED = { OUTPUT_URL_TTL_S: '60' }
const query = (url: string) => new URL(url).search

t.test('signed links: the signature of the object asked for, unexpired, or 403', async (t) => {
  const spec = await specApp(t, SIGNED)
  const { id } = await stored(spec)
  const sign = (path: string, nowMs = Date.now()) => query(signOutputUrl(`http://x${path}`, path, spec.config, nowMs))
  const image = `/images/${id}/0.png`
  const csv = `/requests/${id}/output.csv`

  t.equal((await spec.app.inject(`${image}${sign(image)}`)).statusCode, 200)
  t.equal((await spec.app.inject(`${csv}${sign(csv)}`)).statusCode, 200)
  t.equal((await spec.app.inject({ method: 'HEAD', url: `${image}${sign(image)}` })).statusCode, 200)
  const unsigned = await spec.app.inject(image)
  t.equal(unsigned.statusCode, 403)
  t.same(unsigned.json(), {
    statusCode: 403,
    error: 'Forbidden',
    message: 'this link needs its expires and signature parameters (OUTPUT_URL_TTL_S is set)'
  })
  t.equal((await spec.app.inject({ method: 'HEAD', url: csv })).statusCode, 403)
  const expired = await spec.app.inject(`${image}${sign(image, Date.now() - 120_000)}`)
  t.equal(expired.statusCode, 403)
  t.match(expired.json(), { message: /expired/ })
  t.equal((await spec.app.inject(`/images/${id}/1.png${sign(image)}`)).statusCode, 403, 'another object')
  t.equal((await spec.app.inject(`${csv}${sign(image)}`)).statusCode, 403, "an image's signature for the CSV")
  const upper = sign(image).replace(/signature=([0-9a-f]+)/, (_, s: string) => `signature=${s.toUpperCase()}`)
  t.equal((await spec.app.inject(`${image}${upper}`)).statusCode, 403, 'an upper-case signature')
  t.equal((await spec.app.inject(`${image}${sign(image)}ff`)).statusCode, 403, 'junk appended')
})

/** One raw HTTP/1.1 request over TCP, as written: the status code of the answer. */
function rawStatus(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`)
    )
    let answer = ''
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
    })
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0)))
    socket.on('error', reject)
  })
}

t.test('over TCP: however the target is spelled, an unsigned link is never served', async (t) => {
  const spec = await specApp(t, SIGNED)
  const { id } = await stored(spec)
  await spec.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = spec.app.server.address() as { port: number }
  const origin = `http://127.0.0.1:${port}`
  const image = `/images/${id}/0.png`
  const csv = `/requests/${id}/output.csv`
  const sign = (path: string) => query(signOutputUrl(`${origin}${path}`, path, spec.config))

  // These reach the output routes: the router decodes and strips what the old raw-URL check looked at.
  const routed = [
    `/%69mages/${id}/0.png`,
    `/%72equests/${id}/output.csv`,
    `/images/${id}/%30.png`,
    `/i%6D%61ges/${id}/0.png`,
    `${origin}${image}`,
    `${origin}${csv}`,
    `HTTP://127.0.0.1:${port}${image}`
  ]
  for (const target of routed) t.equal(await rawStatus(port, target), 403, `unsigned ${target}`)
  // The signature belongs to the object, not to the spelling: the same targets with a valid one are served.
  for (const target of routed) {
    const path = target.includes('output.csv') || target.includes('%72equests') ? csv : image
    t.equal(await rawStatus(port, `${target}${sign(path)}`), 200, `signed ${target}`)
  }
  // Others never reach an output route at all: not found or refused, never the object.
  for (const target of [
    `//images/${id}/0.png`,
    `/images//${id}/0.png`,
    `/x/../images/${id}/0.png`,
    `/images/./${id}/0.png`,
    `/images/${id}/./0.png`,
    `/%2e%2e/images/${id}/0.png`,
    `/images/${id}%2F0.png`,
    `/IMAGES/${id}/0.png`,
    `/images/${id}/0.png/`
  ]) {
    const status = await rawStatus(port, target)
    t.ok([400, 403, 404].includes(status), `unsigned ${target}: ${status}`)
  }
})
