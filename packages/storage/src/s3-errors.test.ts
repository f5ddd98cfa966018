import t from 'tap'
import { classifyS3Error } from './s3-errors.ts'

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
  t.equal(classifyS3Error(sdk('SlowDown', 503)), 'failed')
  t.equal(classifyS3Error(sdk('InsufficientStorage', 507)), 'full')
})
