/**
 * The API serves outputs through the storage port, from a bucket on a real S3 server (versitygw) and from a
 * directory, with Range, HEAD, ETag and conditional GET. The API runs as a child process.
 */

import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { objectMeta } from '@imgproc/core'
import t from 'tap'
import { startS3Server } from './s3.ts'
import { type Service, startService } from './support/service.ts'

const s3 = await startS3Server()
const bucket = await s3.createBucket()
const PREFIX = 'prod/outputs'
const overS3 = await startService({ workers: 0, env: s3.env(bucket, PREFIX) })
const overFiles = await startService({ workers: 0 })
t.teardown(async () => {
  await Promise.all([overS3.stop(), overFiles.stop()])
  await s3.stop()
})

/**
 * Stores an object the way a worker does, behind the API's back: straight into the bucket (with the metadata a
 * worker's put sets) or the directory.
 */
const store: Record<string, (service: Service, key: string, data: Buffer) => Promise<void>> = {
  s3: async (_service, key, data) => {
    const { contentType, cacheControl } = objectMeta(key)
    await s3.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${PREFIX}/${key}`,
        Body: data,
        ContentType: contentType,
        CacheControl: cacheControl
      })
    )
  },
  filesystem: async (service, key, data) => {
    await mkdir(path.join(service.env.STORAGE_DIR!, path.dirname(key)), { recursive: true })
    await writeFile(path.join(service.env.STORAGE_DIR!, key), data)
  }
}

for (const [name, service] of [
  ['s3', overS3],
  ['filesystem', overFiles]
] as const) {
  t.test(`${name}: images and the output CSV through the API`, async (t) => {
    const id = randomUUID()
    const image = randomBytes(50_000)
    await store[name]!(service, `${id}/3.webp`, image)
    const csv = Buffer.from(
      'S. No.,Product Name,Input Image Urls,Output Image Urls\n1,Shoe,https://a.example/1.jpg,https://x/1.webp\n'
    )
    await store[name]!(service, `${id}/output.csv`, csv)
    const url = `${service.apiUrl}/images/${id}/3.webp`

    const full = await fetch(url)
    t.equal(full.status, 200)
    t.ok(Buffer.from(await full.arrayBuffer()).equals(image), 'the stored bytes')
    const etag = full.headers.get('etag')!
    t.match(etag, /^"[^"]+"$/, 'a strong entity tag')
    t.match(Object.fromEntries(full.headers), {
      'content-type': 'image/webp',
      'content-length': String(image.length),
      'cache-control': 'public, max-age=31536000, immutable',
      'accept-ranges': 'bytes',
      'last-modified': /GMT$/
    })

    const head = await fetch(url, { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers.get('content-length'), String(image.length), 'HEAD tells the size')
    t.equal(head.headers.get('etag'), etag)
    t.equal(head.headers.get('cache-control'), 'public, max-age=31536000, immutable')
    t.equal((await head.arrayBuffer()).byteLength, 0, 'and sends no body')

    const part = await fetch(url, { headers: { range: 'bytes=100-199' } })
    t.equal(part.status, 206)
    t.equal(part.headers.get('content-range'), `bytes 100-199/${image.length}`)
    t.equal(part.headers.get('content-length'), '100')
    t.ok(Buffer.from(await part.arrayBuffer()).equals(image.subarray(100, 200)))
    const tail = await fetch(url, { headers: { range: 'bytes=-10' } })
    t.equal(tail.status, 206)
    t.ok(Buffer.from(await tail.arrayBuffer()).equals(image.subarray(image.length - 10)))
    const headPart = await fetch(url, { method: 'HEAD', headers: { range: 'bytes=0-9' } })
    t.equal(headPart.status, 206)
    t.equal(headPart.headers.get('content-range'), `bytes 0-9/${image.length}`)
    const past = await fetch(url, { headers: { range: `bytes=${image.length}-` } })
    t.equal(past.status, 416)
    t.equal(past.headers.get('content-range'), `bytes */${image.length}`)

    const notModified = await fetch(url, { headers: { 'if-none-match': etag } })
    t.equal(notModified.status, 304)
    t.equal(notModified.headers.get('etag'), etag)
    t.equal((await notModified.arrayBuffer()).byteLength, 0)
    t.equal((await fetch(url, { method: 'HEAD', headers: { 'if-none-match': `"x", ${etag}` } })).status, 304)
    t.equal(
      (await fetch(url, { headers: { 'if-none-match': etag, range: 'bytes=0-9' } })).status,
      304,
      'a matching tag wins over Range'
    )
    const changed = await fetch(url, { headers: { 'if-none-match': '"something-else"' } })
    t.equal(changed.status, 200)
    t.equal((await changed.arrayBuffer()).byteLength, image.length)

    const out = await fetch(`${service.apiUrl}/requests/${id}/output.csv`)
    t.equal(out.status, 200)
    t.equal(await out.text(), csv.toString())
    t.match(Object.fromEntries(out.headers), {
      'content-type': 'text/csv; charset=utf-8',
      'cache-control': /^private/,
      'content-disposition': `attachment; filename="${id}.csv"`,
      etag: /^"/
    })
    const outEtag = out.headers.get('etag')!
    t.equal(
      (await fetch(`${service.apiUrl}/requests/${id}/output.csv`, { headers: { 'if-none-match': outEtag } })).status,
      304
    )

    t.equal((await fetch(`${service.apiUrl}/images/${id}/4.webp`)).status, 404)
    t.equal((await fetch(`${service.apiUrl}/images/${id}/4.webp`, { method: 'HEAD' })).status, 404)
    t.equal((await fetch(`${service.apiUrl}/requests/${randomUUID()}/output.csv`)).status, 404)
  })
}

t.test('s3: the API is ready while the bucket answers, and says which part is down when it does not', async (t) => {
  const ready = await fetch(`${overS3.apiUrl}/readyz`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { status: 'ready', checks: { mongodb: 'ok', storage: 'ok' } })
  await s3.stop()
  const notReady = await fetch(`${overS3.apiUrl}/readyz`)
  t.equal(notReady.status, 503)
  t.same(await notReady.json(), { status: 'not ready', checks: { mongodb: 'ok', storage: 'unreachable' } })
  const image = await fetch(`${overS3.apiUrl}/images/${randomUUID()}/0.webp`)
  t.equal(image.status, 503)
  t.match(await image.json(), { message: 'storage is unavailable; retry shortly' })
})
