import { STATUS_CODES } from 'node:http'
import type { HttpError, HttpErrors } from '@fastify/sensible'
import { type Config, type CsvRowError, isDatabaseUnavailable } from '@imgproc/core'
import { StorageError } from '@imgproc/storage'
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** Why an answer is a 5xx: an outage of our own infrastructure (never the client's fault), or a bug. */
export type Failure = 'storage' | 'database' | 'internal' | null

/**
 * Any error as the HTTP error the client gets, and whether it is ours. Routes and hooks raise @fastify/sensible's
 * errors (reply.notFound, httpErrors.badRequest, …), whose messages are for the client; anything else is sorted
 * here: storage or database outages are 503, Fastify's own client errors keep their status, the rest is a 500
 * that tells nothing of its internals.
 */
export function asHttpError(
  err: FastifyError | Error,
  httpErrors: HttpErrors,
  config: Pick<Config, 'MAX_CSV_BYTES'>
): { error: HttpError; failure: Failure } {
  if (err instanceof httpErrors.HttpError) return { error: err, failure: null }
  if (err instanceof StorageError && err.kind !== 'invalid-key')
    return { error: httpErrors.serviceUnavailable('storage is unavailable; retry shortly'), failure: 'storage' }
  if (isDatabaseUnavailable(err))
    return { error: httpErrors.serviceUnavailable('the database is unavailable; retry shortly'), failure: 'database' }
  const e = err as FastifyError
  if (e.code === 'FST_REQ_FILE_TOO_LARGE')
    return {
      error: httpErrors.payloadTooLarge(`the CSV is larger than ${config.MAX_CSV_BYTES} bytes (MAX_CSV_BYTES)`),
      failure: null
    }
  if (e.validation)
    return { error: httpErrors.badRequest(`invalid ${e.validationContext ?? 'request'}: ${e.message}`), failure: null }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return { error: httpErrors.createError(e.statusCode, e.message), failure: null }
  return { error: httpErrors.internalServerError('internal error'), failure: 'internal' }
}

/** The body of every error answer (ErrorBody): the status, its reason phrase, a message, and CSV rows if any. */
export function errorBody(error: HttpError & { errors?: CsvRowError[] }) {
  return {
    statusCode: error.statusCode,
    error: STATUS_CODES[error.statusCode] ?? 'Error',
    message: error.message,
    ...(Array.isArray(error.errors) ? { errors: error.errors } : {})
  }
}

/** One error handler and the not-found handler: every error answer of the API is shaped here. */
export default fp(
  async (app: FastifyInstance, opts: { config: Pick<Config, 'MAX_CSV_BYTES'> }) => {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const { error, failure } = asHttpError(err, app.httpErrors, opts.config)
      if (failure === 'storage')
        request.log.error({ err: err.message, kind: (err as unknown as StorageError).kind }, 'storage unavailable')
      else if (failure === 'database') request.log.error({ err: err.message }, 'database unavailable')
      else if (failure === 'internal') request.log.error({ err }, 'request failed')
      return reply.code(error.statusCode).send(errorBody(error))
    })
    app.setNotFoundHandler((request, reply) =>
      reply.notFound(`nothing at ${request.method} ${request.url.split('?')[0]}`)
    )
  },
  { name: 'imgproc-errors', dependencies: ['@fastify/sensible'] }
)
