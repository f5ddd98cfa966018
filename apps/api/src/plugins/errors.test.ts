import sensible from '@fastify/sensible'
import { StorageError } from '@imgproc/storage'
import Fastify from 'fastify'
import t from 'tap'
import { ERROR_KEYS, specApp } from '../../test/spec-app.ts'
import { asHttpError, errorBody } from './errors.ts'

const limits = { MAX_CSV_BYTES: 1000 }

t.test('asHttpError: outages are 503, client errors keep their status, the rest is a bare 500', async (t) => {
  const app = Fastify()
  await app.register(sensible)
  const sort = (err: Error) => {
    const { error, failure } = asHttpError(err, app.httpErrors, limits)
    return [error.statusCode, error.message, failure]
  }
  t.same(sort(app.httpErrors.notFound('no such thing')), [404, 'no such thing', null], "sensible's own")
  t.same(sort(app.httpErrors.serviceUnavailable('busy')), [503, 'busy', null], 'a 503 a route chose keeps its words')
  t.same(sort(new StorageError('unreachable', 'cannot reach S3 at http://10.0.0.5:9000 (S3_ENDPOINT)')), [
    503,
    'storage is unavailable; retry shortly',
    'storage'
  ])
  t.same(sort(new StorageError('invalid-key', 'invalid storage key "../x"')), [500, 'internal error', 'internal'])
  const selection = Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:27017'), {
    name: 'MongoServerSelectionError'
  })
  t.same(sort(selection), [503, 'the database is unavailable; retry shortly', 'database'])
  t.same(sort(Object.assign(new Error('too big'), { code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 })), [
    413,
    'the CSV is larger than 1000 bytes (MAX_CSV_BYTES)',
    null
  ])
  t.same(
    sort(
      Object.assign(new Error('params/request_id must match format "uuid"'), {
        validation: [],
        validationContext: 'params'
      })
    ),
    [400, 'invalid params: params/request_id must match format "uuid"', null]
  )
  t.same(sort(Object.assign(new Error('Request body is too large'), { statusCode: 413 })), [
    413,
    'Request body is too large',
    null
  ])
  t.same(sort(Object.assign(new Error('/srv/secret/path: EACCES'), { statusCode: 502 })), [
    500,
    'internal error',
    'internal'
  ])
  t.same(sort(new TypeError("Cannot read properties of undefined (reading 'x')")), [500, 'internal error', 'internal'])
})

t.test('errorBody: the reason phrase, and CSV rows only when there are some', async (t) => {
  const app = Fastify()
  await app.register(sensible)
  t.same(errorBody(app.httpErrors.tooManyRequests('slow down')), {
    statusCode: 429,
    error: 'Too Many Requests',
    message: 'slow down'
  })
  const rows = [{ row: 2, column: 'S. No.', message: 'not a number' }]
  t.same(errorBody(Object.assign(app.httpErrors.badRequest('the CSV has 1 problem(s)'), { errors: rows })), {
    statusCode: 400,
    error: 'Bad Request',
    message: 'the CSV has 1 problem(s)',
    errors: rows
  })
})

t.test('in the app: not found, and an unexpected failure that tells nothing of itself', async (t) => {
  const { app } = await specApp(t)
  app.get('/explode', async () => {
    throw new Error('mongodb://admin:hunter2@10.0.0.7/ is on fire')
  })
  const missing = await app.inject('/nothing/here?x=1')
  t.equal(missing.statusCode, 404)
  t.same(missing.json(), { statusCode: 404, error: 'Not Found', message: 'nothing at GET /nothing/here' })
  const failed = await app.inject('/explode')
  t.equal(failed.statusCode, 500)
  t.same(failed.json(), { statusCode: 500, error: 'Internal Server Error', message: 'internal error' })
  const boundary = await app.inject({
    method: 'POST',
    url: '/upload',
    headers: { 'content-type': 'multipart/form-data' }
  })
  t.equal(boundary.statusCode, 400)
  t.same(Object.keys(boundary.json()).sort(), ERROR_KEYS)
  t.match(boundary.json(), { message: 'multipart/form-data without a boundary parameter' })
})
