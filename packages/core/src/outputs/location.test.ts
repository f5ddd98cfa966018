import path from 'node:path'
import t from 'tap'
import { deliveryUrl, publicUrl } from './files.ts'
import { describeLocation, parseStorageUrl } from './location.ts'

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
