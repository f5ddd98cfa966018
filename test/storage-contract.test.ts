/**
 * The storage port's contract, run against both adapters: the filesystem in a temporary directory and S3 on a
 * real versitygw server (no mock of the S3 API).
 */

import { randomBytes, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  UploadPartCommand
} from '@aws-sdk/client-s3'
import { IMMUTABLE, objectMeta, PRIVATE } from '@imgproc/core'
import { type ByteRange, FileStorage, type Storage, StorageError } from '@imgproc/storage'
import { S3Storage } from '@imgproc/storage/s3'
import t from 'tap'
import { startS3Server } from './s3.ts'

const s3 = await startS3Server()
t.teardown(() => s3.stop())
const bucket = await s3.createBucket()
const S3_PREFIX = 'tenant-a/outputs'
const PART = 5 * 1024 * 1024

interface Fixture {
  storage: Storage
  /** What a process killed mid-write leaves behind under `prefix`. */
  leaveStale(prefix: string): Promise<void>
  /** Whether anything unfinished (temp file, multipart upload) is left under `prefix`. */
  unfinished(prefix: string): Promise<number>
}

const fileRoot = await mkdtemp(path.join(tmpdir(), 'imgproc-fs-contract-'))
const fixtures: Record<string, Fixture> = {
  filesystem: {
    storage: new FileStorage(fileRoot),
    async leaveStale(prefix) {
      await mkdir(path.join(fileRoot, prefix), { recursive: true })
      await writeFile(path.join(fileRoot, prefix, `0.webp.${randomUUID()}.tmp`), 'half an image')
    },
    async unfinished(prefix) {
      const names = await readdir(path.join(fileRoot, prefix)).catch(() => [] as string[])
      return names.filter((n) => n.endsWith('.tmp')).length
    }
  },
  s3: {
    storage: new S3Storage({
      bucket,
      prefix: S3_PREFIX,
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: true,
      credentials: s3.credentials,
      partSize: PART
    }),
    async leaveStale(prefix) {
      const Key = `${S3_PREFIX}/${prefix}0.webp`
      const { UploadId } = await s3.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }))
      await s3.client.send(
        new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(1024) })
      )
    },
    async unfinished(prefix) {
      const res = await s3.client.send(
        new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${S3_PREFIX}/${prefix}` })
      )
      return res.Uploads?.length ?? 0
    }
  }
}

const body = (s: Storage, key: string, range?: ByteRange) =>
  s.read(key, range).then(async (r) => r && { info: r.info, bytes: await buffer(r.body) })

/** A body that sends `bytes` and then fails, as a download or encoder dying mid-stream does. */
function failingStream(bytes: number): Readable {
  let sent = 0
  return new Readable({
    read() {
      if (sent >= bytes) return this.destroy(new Error('the source died mid-stream'))
      const chunk = randomBytes(Math.min(256 * 1024, bytes - sent))
      sent += chunk.length
      this.push(chunk)
    }
  })
}

for (const [name, { storage, leaveStale, unfinished }] of Object.entries(fixtures)) {
  t.test(name, async (t) => {
    t.teardown(() => storage.close())
    const req = randomUUID()
    const data = randomBytes(10_000)
    const key = `${req}/0.webp`

    t.test('start-up check passes, for reading and for writing', async (t) => {
      await t.resolves(storage.check())
      await t.resolves(storage.check({ write: true }))
    })

    t.test('put then read and stat return the bytes and the metadata given to put', async (t) => {
      t.equal(await storage.put(key, data, objectMeta(key)), 'created')
      const got = await body(storage, key)
      t.ok(got)
      t.ok(got!.bytes.equals(data), 'same bytes back')
      t.match(got!.info, {
        size: data.length,
        contentType: 'image/webp',
        cacheControl: IMMUTABLE,
        etag: /^"[^"]+"$/
      })
      t.ok(got!.info.lastModified.getTime() > Date.now() - 60_000)
      const stat = await storage.stat(key)
      t.same(stat, got!.info, 'stat describes the object as read does')
    })

    t.test('a readable stream body is stored whole', async (t) => {
      const csvKey = `${req}/output.csv`
      const text = 'S. No.,Product Name\n1,Shoe\n'
      t.equal(
        await storage.put(
          csvKey,
          Readable.from([Buffer.from(text.slice(0, 10)), Buffer.from(text.slice(10))]),
          objectMeta(csvKey)
        ),
        'created'
      )
      const got = await body(storage, csvKey)
      t.equal(got!.bytes.toString(), text)
      t.equal(got!.info.contentType, 'text/csv; charset=utf-8')
      t.equal(got!.info.cacheControl, PRIVATE, 'the policy decided when it was written')
    })

    t.test('missing objects are null, not errors', async (t) => {
      t.equal(await storage.read(`${req}/9.webp`), null)
      t.equal(await storage.read(`${req}/9.webp`, { start: 0, end: 1 }), null)
      t.equal(await storage.stat(`${randomUUID()}/0.webp`), null)
    })

    t.test('byte ranges', async (t) => {
      const middle = await body(storage, key, { start: 2, end: 5 })
      t.ok(middle!.bytes.equals(data.subarray(2, 6)))
      t.equal(middle!.info.size, data.length, 'the size is the whole object, for Content-Range')
      const last = await body(storage, key, { start: data.length - 3, end: data.length - 1 })
      t.ok(last!.bytes.equals(data.subarray(data.length - 3)))
      const one = await body(storage, key, { start: data.length - 1, end: data.length - 1 })
      t.ok(one!.bytes.equals(data.subarray(data.length - 1)))
      const past = await body(storage, key, { start: data.length - 2, end: data.length + 100 })
      t.ok(past!.bytes.equals(data.subarray(data.length - 2)), 'an end past the last byte reads to the end')
      t.equal(past!.info.size, data.length)
    })

    t.test('one entity tag per object: stat and read agree, other objects differ', async (t) => {
      const { etag } = (await storage.stat(key))!
      t.equal((await body(storage, key))!.info.etag, etag)
      t.equal((await body(storage, key, { start: 0, end: 0 }))!.info.etag, etag, 'also for a range')
      t.equal((await storage.stat(key))!.etag, etag, 'stable')
      t.not((await storage.stat(`${req}/output.csv`))!.etag, etag)
    })

    t.test('outputs never change once written', async (t) => {
      t.equal(await storage.put(key, randomBytes(500), objectMeta(key)), 'exists')
      const got = await body(storage, key)
      t.ok(got!.bytes.equals(data), 'the first object is kept')
      const racer = `${req}/1.webp`
      const bodies = [randomBytes(3000), randomBytes(3000), randomBytes(3000)]
      const results = await Promise.all(bodies.map((b) => storage.put(racer, b, objectMeta(racer))))
      t.equal(results.filter((r) => r === 'created').length, 1, `one of three concurrent writers wins: ${results}`)
      const stored = (await body(storage, racer))!.bytes
      t.ok(
        bodies.some((b) => b.equals(stored)),
        'and the stored object is one whole body, not a mix'
      )
    })

    t.test('a body stream that fails leaves no object and nothing unfinished', async (t) => {
      const small = `${req}/2.webp`
      const failure = await storage.put(small, failingStream(100_000), objectMeta(small)).then(
        () => null,
        (err: unknown) => err
      )
      t.match((failure as Error)?.message, /mid-stream/)
      // The finisher's CSV is a stream fed from MongoDB: its failure must not read as a storage outage (retried forever).
      t.notOk(failure instanceof StorageError, 'the body’s own error comes back, not a storage failure')
      t.equal(await storage.stat(small), null)
      const large = `${req}/3.webp`
      await t.rejects(
        storage.put(large, failingStream(PART * 2 + 1000), objectMeta(large)),
        /mid-stream/,
        'past the multipart threshold'
      )
      t.equal(await storage.stat(large), null)
      t.equal(await unfinished(`${req}/`), 0, 'no temp file or multipart upload left')
    })

    t.test('a large object goes up whole', async (t) => {
      const big = `${req}/4.png`
      const bytes = randomBytes(PART * 2 + 12345)
      t.equal(
        await storage.put(big, Readable.from([bytes.subarray(0, PART + 7), bytes.subarray(PART + 7)]), objectMeta(big)),
        'created'
      )
      const got = await body(storage, big, { start: PART - 2, end: PART + 9 })
      t.ok(got!.bytes.equals(bytes.subarray(PART - 2, PART + 10)), 'a range across the part boundary')
      t.equal(got!.info.size, bytes.length)
      t.equal(
        await storage.put(big, Readable.from([randomBytes(PART * 2)]), objectMeta(big)),
        'exists',
        'a second large write does not replace it'
      )
      t.ok((await body(storage, big))!.bytes.equals(bytes))
      t.equal(await unfinished(`${req}/`), 0, 'and leaves no multipart upload behind')
    })

    t.test("what a killed writer left is removed by the request's next owner", async (t) => {
      const stale = `${randomUUID()}/`
      await leaveStale(stale)
      t.equal(await unfinished(stale), 1)
      t.equal(await storage.stat(`${stale}0.webp`), null, 'and it was never visible')
      t.equal(
        await storage.removeStale([`${stale}1.webp`, `${stale}2.webp`]),
        0,
        'another unit of the request leaves it alone'
      )
      t.equal(await unfinished(stale), 1)
      t.equal(await storage.removeStale([`${stale}0.webp`]), 1)
      t.equal(await unfinished(stale), 0)
      t.equal(await storage.removeStale([`${randomUUID()}/0.webp`]), 0, 'a request with nothing left')
    })

    t.test('deletePrefix removes one request and nothing else', async (t) => {
      const other = randomUUID()
      await storage.put(`${other}/0.webp`, data, objectMeta(`${other}/0.webp`))
      t.equal(await storage.deletePrefix(`${req}/`), 4, '0.webp, 1.webp, 4.png and output.csv')
      t.equal(await storage.stat(key), null)
      t.equal(await storage.stat(`${req}/output.csv`), null)
      t.ok(await storage.stat(`${other}/0.webp`), 'another request is untouched')
      t.equal(await storage.deletePrefix(`${req}/`), 0, 'again: nothing left')
    })

    t.test('delete removes one object and nothing else; nothing there is no error', async (t) => {
      const shared = `o/${'a'.repeat(32)}/${'b'.repeat(64)}-${'c'.repeat(16)}.webp`
      const neighbour = `o/${'a'.repeat(32)}/${'d'.repeat(64)}-${'c'.repeat(16)}.webp`
      await storage.put(shared, data, objectMeta(shared))
      await storage.put(neighbour, data, objectMeta(neighbour))
      await storage.delete(shared)
      t.equal(await storage.stat(shared), null)
      t.ok(await storage.stat(neighbour), 'its neighbour is untouched')
      await storage.delete(shared)
      t.pass('again: nothing there')
      await t.rejects(storage.delete('../x.webp'), { name: 'StorageError', kind: 'invalid-key' })
    })

    t.test('keys that could leave the root are refused', async (t) => {
      const invalid = { name: 'StorageError', kind: 'invalid-key' }
      for (const bad of ['../x.webp', `${req}/../../x.webp`, '/etc/passwd', `${req}//0.webp`, `${req}/.`, '']) {
        await t.rejects(storage.put(bad, data, objectMeta('x/0.webp')), invalid, `put ${JSON.stringify(bad)}`)
        await t.rejects(storage.read(bad), StorageError, `read ${JSON.stringify(bad)}`)
        await t.rejects(storage.stat(bad), StorageError, `stat ${JSON.stringify(bad)}`)
      }
      await t.rejects(storage.deletePrefix(req), invalid, 'a prefix must end with /')
      await t.rejects(storage.deletePrefix('/'), invalid, 'never the whole store')
      await t.rejects(storage.removeStale(['../0.webp']), invalid)
    })
  })
}

t.test('S3: content type and cache headers are set on upload, under the configured prefix', async (t) => {
  const storage = fixtures.s3!.storage
  const req = randomUUID()
  await storage.put(`${req}/0.avif`, randomBytes(100), objectMeta(`${req}/0.avif`))
  await storage.put(`${req}/output.csv`, Buffer.from('a,b\n'), objectMeta(`${req}/output.csv`))
  const image = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${S3_PREFIX}/${req}/0.avif` }))
  t.equal(image.ContentType, 'image/avif')
  t.equal(image.CacheControl, IMMUTABLE)
  const csv = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `${S3_PREFIX}/${req}/output.csv` }))
  t.equal(csv.ContentType, 'text/csv; charset=utf-8')
  t.equal(csv.CacheControl, PRIVATE)
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${S3_PREFIX}/${req}/` }))
  t.same(listed.Contents?.map((o) => o.Key).sort(), [`${S3_PREFIX}/${req}/0.avif`, `${S3_PREFIX}/${req}/output.csv`])
})

t.test('S3: the metadata given to put is what stat and read report', async (t) => {
  const storage = fixtures.s3!.storage
  const key = `${randomUUID()}/0.webp`
  const meta = { contentType: 'image/webp', cacheControl: 'no-store' }
  await storage.put(key, randomBytes(10), meta)
  t.match(await storage.stat(key), meta)
  const read = await storage.read(key, { start: 0, end: 3 })
  t.match(read!.info, { ...meta, size: 10 })
  read!.body.destroy()
})

t.test('filesystem: a directory keeps no metadata, so it refuses any it could not give back', async (t) => {
  const storage = fixtures.filesystem!.storage
  const key = `${randomUUID()}/0.webp`
  await t.rejects(storage.put(key, randomBytes(10), { ...objectMeta(key), cacheControl: 'no-store' }), /no metadata/)
  t.equal(await storage.stat(key), null, 'and stores nothing')
})
