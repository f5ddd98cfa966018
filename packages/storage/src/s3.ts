import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { type ObjectMeta, PRIVATE } from '@imgproc/core'
import {
  assertKey,
  assertPrefix,
  type ByteRange,
  type ObjectInfo,
  type ObjectRead,
  type PutResult,
  type Storage,
  StorageError
} from './port.ts'
import { classifyS3Error } from './s3-errors.ts'

export interface S3Options {
  bucket: string
  /** Key prefix inside the bucket, without leading or trailing slash; '' for the bucket's root. */
  prefix: string
  /** S3_ENDPOINT, for anything but AWS; undefined for AWS S3. */
  endpoint?: string | undefined
  region: string
  forcePathStyle: boolean
  /** Only tests pass these; processes use the AWS default chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string }
  /** Bodies larger than this go up as a multipart upload, in parts of this size (S3's minimum is 5 MiB). */
  partSize?: number
}

/**
 * Objects in an S3-compatible bucket. Writes are conditional (If-None-Match: *), so an output never changes once
 * written; a single PUT or a completed multipart upload is the only way an object becomes visible, so a failed
 * body stream leaves nothing, and a failed multipart upload is aborted (a killed process's is swept by removeStale).
 */
export class S3Storage implements Storage {
  readonly description: string
  private readonly client: S3Client
  private readonly where: string

  constructor(private readonly options: S3Options) {
    this.description = `s3://${options.bucket}${options.prefix ? `/${options.prefix}` : ''}`
    this.where = options.endpoint
      ? `at ${options.endpoint} (S3_ENDPOINT)`
      : `in AWS region ${options.region} (S3_REGION)`
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // Checksums only where S3 requires them: many S3-compatible servers refuse the newer default trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: 5000 }
    })
  }

  async put(key: string, body: Buffer | Readable, meta: ObjectMeta): Promise<PutResult> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.options.bucket,
        Key: this.key(key),
        Body: body,
        ContentType: meta.contentType,
        CacheControl: meta.cacheControl,
        IfNoneMatch: '*'
      },
      partSize: this.options.partSize ?? 8 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false
    })
    // A body that fails (a stream fed from the database) is the caller's failure, not the storage's: it passes
    // through as it is, so it is not taken for a storage outage and retried forever.
    let bodyError: unknown
    if (body instanceof Readable)
      body.once('error', (err) => {
        bodyError = err
      })
    try {
      await upload.done()
      return 'created'
    } catch (err) {
      if (bodyError) throw bodyError
      // 412: the key exists. 409: another writer's conditional write of the same key is in flight; ours loses.
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (status === 412 || status === 409) return 'exists'
      throw this.failure(err, `writing ${key}`)
    }
  }

  async read(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    const res = await this.request(
      () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.options.bucket,
            Key: this.key(key),
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {})
          })
        ),
      key
    )
    if (!res) return null
    const body = res.Body as Readable
    if (!range) return { info: info(res), body }
    // A ranged answer's Content-Length is the range's; the whole size is in Content-Range (`bytes a-b/size`).
    const size = Number(/\/(\d+)$/.exec(res.ContentRange ?? '')?.[1] ?? Number.NaN)
    if (!Number.isSafeInteger(size)) {
      body.destroy()
      throw new StorageError('failed', `S3 ${this.where} answered a ranged read of ${key} without Content-Range`)
    }
    return { info: { ...info(res), size }, body }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const res = await this.request(
      () => this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) })),
      key
    )
    return res && info(res)
  }

  async deletePrefix(prefix: string): Promise<number> {
    const Prefix = `${this.key(assertPrefix(prefix).slice(0, -1))}/`
    let deleted = 0
    try {
      for await (const page of paginateListObjectsV2(
        { client: this.client, pageSize: 1000 },
        { Bucket: this.options.bucket, Prefix }
      )) {
        const objects = (page.Contents ?? []).map((o) => ({ Key: o.Key! }))
        if (objects.length === 0) continue
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.options.bucket, Delete: { Objects: objects, Quiet: true } })
        )
        if (res.Errors?.length)
          throw new Error(
            `${res.Errors.length} objects were not deleted, first: ${res.Errors[0]!.Key}: ${res.Errors[0]!.Code}`
          )
        deleted += objects.length
      }
    } catch (err) {
      throw this.failure(err, `deleting ${prefix}`)
    }
    return deleted
  }

  async delete(key: string): Promise<void> {
    const Key = this.key(key)
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key }))
    } catch (err) {
      throw this.failure(err, `deleting ${key}`)
    }
  }

  async removeStale(keys: string[]): Promise<number> {
    if (keys.length === 0) return 0
    const wanted = new Set(keys.map((k) => this.key(assertKey(k))))
    // Keys of one piece of work share their request's folder: list that once, abort only the keys asked for.
    const first = [...wanted][0]!
    const Prefix = first.slice(0, first.lastIndexOf('/') + 1)
    let aborted = 0
    try {
      let markers: { KeyMarker?: string; UploadIdMarker?: string } = {}
      for (;;) {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.options.bucket, Prefix, ...markers })
        )
        for (const upload of page.Uploads ?? []) {
          if (!wanted.has(upload.Key!)) continue
          await this.client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.options.bucket,
              Key: upload.Key!,
              UploadId: upload.UploadId!
            })
          )
          aborted++
        }
        if (!page.IsTruncated) return aborted
        markers = { KeyMarker: page.NextKeyMarker!, UploadIdMarker: page.NextUploadIdMarker! }
      }
    } catch (err) {
      throw this.failure(err, `aborting unfinished uploads under ${Prefix}`)
    }
  }

  async check(options: { write?: boolean } = {}): Promise<void> {
    try {
      // A listing rather than HeadBucket: a HEAD answer has no body, so it cannot tell a missing bucket from an
      // unknown access key (both can be a bare 404); a GET's error code can.
      await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.options.prefix, MaxKeys: 1 })
      )
    } catch (err) {
      throw this.failure(err, 'checking the bucket')
    }
    if (!options.write) return
    const probe = `${this.options.prefix ? `${this.options.prefix}/` : ''}.imgproc-check/${randomUUID()}`
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: probe, Body: '' }))
    } catch (err) {
      throw this.failure(err, 'writing a probe object')
    }
    // Best effort: a bucket policy may allow writes but not deletes (retention then fails, and says so).
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: probe })).catch(() => undefined)
  }

  async close(): Promise<void> {
    this.client.destroy()
  }

  private key(key: string): string {
    assertKey(key)
    return this.options.prefix ? `${this.options.prefix}/${key}` : key
  }

  /** null for a missing key; any other failure becomes a StorageError. */
  private async request<T>(request: () => Promise<T>, key: string): Promise<T | null> {
    try {
      return await request()
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
      if (e.name === 'NoSuchKey' || (e.name === 'NotFound' && e.$metadata?.httpStatusCode === 404)) return null
      throw this.failure(err, `reading ${key}`)
    }
  }

  private failure(err: unknown, doing: string): StorageError {
    const kind = classifyS3Error(err)
    const e = err as { name?: string; code?: string; message?: string }
    const detail = `${e.name ?? 'Error'}${e.code && e.code !== e.name ? ` ${e.code}` : ''}: ${e.message || 'no message'}`
    const bucket = `bucket "${this.options.bucket}"`
    const message = {
      'missing-bucket': `${bucket} does not exist ${this.where}; create it, or correct STORAGE_URL`,
      denied: `access to ${bucket} ${this.where} was denied while ${doing} (${detail}); check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or an instance role) and the bucket policy`,
      unreachable: `cannot reach S3 ${this.where} while ${doing} (${detail}); check S3_ENDPOINT and the network${this.options.endpoint && !this.options.forcePathStyle ? '; most non-AWS servers also need S3_FORCE_PATH_STYLE=true' : ''}`,
      'not-writable': `${bucket} is not writable (${detail})`,
      full: `${bucket} ${this.where} has no room left while ${doing} (${detail}); raise its quota`,
      'invalid-key': detail,
      failed: `S3 ${this.where} failed while ${doing} on ${bucket} (${detail})`
    }[kind]
    return new StorageError(kind, message, { cause: err })
  }
}

function info(res: GetObjectCommandOutput | HeadObjectCommandOutput): ObjectInfo {
  return {
    size: res.ContentLength ?? 0,
    etag: res.ETag ?? '',
    contentType: res.ContentType ?? 'application/octet-stream',
    // Every put sets one; an object stored without (by hand) is kept out of shared caches rather than guessed at.
    cacheControl: res.CacheControl ?? PRIVATE,
    lastModified: res.LastModified ?? new Date(0)
  }
}
