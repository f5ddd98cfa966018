import path from 'node:path'
import t from 'tap'
import { deliveryUrl, publicUrl } from './files.ts'
import { describeLocation, parseStorageUrl } from './location.ts'
import { assertKey, IMMUTABLE, objectMeta, PRIVATE } from './port.ts'
import { classifyS3Error } from './s3.ts'

t.test('parseStorageUrl', async (t) => {
  t.same(
    parseStorageUrl('', './data/storage'),
    { kind: 'file', dir: path.resolve('data/storage') },
    'STORAGE_DIR as the shorthand'
  )
  t.same(parseStorageUrl('file:///var/lib/imgproc', 'ignored'), { kind: 'file', dir: '/var/lib/imgproc' })
  t.same(parseStorageUrl('file://localhost/srv/out/', 'ignored'), { kind: 'file', dir: '/srv/out' })
  t.same(parseStorageUrl('file:///srv/with%20space', 'x'), { kind: 'file', dir: '/srv/with space' })
  t.same(parseStorageUrl('s3://my-bucket', 'x'), { kind: 's3', bucket: 'my-bucket', prefix: '' })
  t.same(parseStorageUrl('s3://my-bucket/', 'x'), { kind: 's3', bucket: 'my-bucket', prefix: '' })
  t.same(parseStorageUrl('s3://my.bucket-1/tenant/outputs/', 'x'), {
    kind: 's3',
    bucket: 'my.bucket-1',
    prefix: 'tenant/outputs'
  })
  t.same(parseStorageUrl('s3://b42//a//b', 'x'), { kind: 's3', bucket: 'b42', prefix: 'a/b' })
  t.throws(() => parseStorageUrl('s3://My_Bucket/x', 'x'), /"My_Bucket" is not a valid bucket name/)
  t.throws(() => parseStorageUrl('s3://ab', 'x'), /not a valid bucket name/)
  t.throws(() => parseStorageUrl('s3://key:secret@bucket/x', 'x'), /without port, query or credentials/)
  t.throws(() => parseStorageUrl('s3://bucket:9000/x', 'x'), /without port/)
  t.throws(() => parseStorageUrl('gs://bucket', 'x'), /scheme "gs" is not supported; use file:\/\/ or s3:\/\//)
  t.throws(() => parseStorageUrl('file://otherhost/x', 'x'), /local directory/)
  t.throws(() => parseStorageUrl('/just/a/path', 'x'), /must be file:\/\/\/absolute\/path or s3:\/\/bucket\[\/prefix\]/)
  t.equal(describeLocation({ kind: 's3', bucket: 'b', prefix: 'p/q' }), 's3://b/p/q')
  t.equal(describeLocation({ kind: 'file', dir: '/d' }), 'file:///d')
})

t.test('deliveryUrl: images may go straight to object storage, the CSV always through the API', async (t) => {
  const api = { PUBLIC_BASE_URL: 'https://api.example.com', STORAGE_PUBLIC_URL: '' }
  const cdn = { ...api, STORAGE_PUBLIC_URL: 'https://cdn.example.com/outputs' }
  t.equal(deliveryUrl(api, 'r1/0.webp'), 'https://api.example.com/images/r1/0.webp')
  t.equal(
    deliveryUrl(api, 'r1/0.webp'),
    publicUrl(api.PUBLIC_BASE_URL, 'r1/0.webp'),
    'the same as publicUrl without STORAGE_PUBLIC_URL'
  )
  t.equal(deliveryUrl(cdn, 'r1/0.webp'), 'https://cdn.example.com/outputs/r1/0.webp')
  t.equal(deliveryUrl(api, 'r1/output.csv'), 'https://api.example.com/requests/r1/output.csv')
  t.equal(deliveryUrl(cdn, 'r1/output.csv'), 'https://api.example.com/requests/r1/output.csv', 'the CSV is private')
})

t.test('objectMeta and keys', async (t) => {
  t.same(objectMeta('r/0.webp'), { contentType: 'image/webp', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/1.jpg'), { contentType: 'image/jpeg', cacheControl: IMMUTABLE })
  t.same(objectMeta('r/output.csv'), { contentType: 'text/csv; charset=utf-8', cacheControl: PRIVATE })
  t.equal(objectMeta('r/x.bin').contentType, 'application/octet-stream')
  t.equal(assertKey('0b1c/12.avif'), '0b1c/12.avif')
  for (const bad of ['', '/a', 'a/', 'a//b', '..', 'a/../b', 'a/./b', 'a\\b', 'a b', '.hidden/x'])
    t.throws(() => assertKey(bad), { name: 'StorageError', kind: 'invalid-key' }, bad)
})

t.test('classifyS3Error: what an operator must fix', async (t) => {
  const sdk = (name: string, status?: number, code?: string) =>
    Object.assign(new Error(name), {
      name,
      ...(code ? { code } : {}),
      ...(status ? { $metadata: { httpStatusCode: status } } : {})
    })
  t.equal(classifyS3Error(sdk('NoSuchBucket', 404)), 'missing-bucket')
  t.equal(classifyS3Error(sdk('AccessDenied', 403)), 'denied')
  t.equal(classifyS3Error(sdk('InvalidAccessKeyId', 403)), 'denied')
  t.equal(classifyS3Error(sdk('XAdminUserNotFound', 404)), 'denied', "versitygw's unknown key")
  t.equal(classifyS3Error(sdk('Unknown', 403)), 'denied', 'a bare 403')
  t.equal(classifyS3Error(sdk('CredentialsProviderError')), 'denied', 'no credentials found at all')
  t.equal(classifyS3Error(sdk('Error', undefined, 'ECONNREFUSED')), 'unreachable')
  t.equal(classifyS3Error(sdk('Error', undefined, 'ENOTFOUND')), 'unreachable')
  t.equal(classifyS3Error(sdk('TimeoutError')), 'unreachable')
  t.equal(classifyS3Error(sdk('InternalError', 500)), 'failed')
})
