import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ErrorBody,
  IMMUTABLE,
  OUTPUT_FILE_PATTERN,
  outputCsvKey,
  PRIVATE,
  RequestId,
  readPlan,
  refuseOutputRequest,
  responseHeaders,
  type Storage
} from '@imgproc/core'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type from 'typebox'

const Bytes = (description: string) => Type.Unknown({ description })
const responses = (what: string) => ({
  200: Bytes(what),
  206: Bytes(`A byte range of ${what} (Range: bytes=…)`),
  304: Type.Null({ description: 'Not modified: the If-None-Match entity tag matches' }),
  400: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  416: Type.Null({ description: 'The range starts past the end' }),
  503: ErrorBody
})

/**
 * Outputs streamed from storage (a directory or a bucket) through the port, with Range, HEAD, ETag and conditional
 * GET. Objects are addressed by a validated request id and a name we generated, never by a free path, and the
 * port refuses any key that could leave its root.
 */
const SignedQuery = Type.Object({
  expires: Type.Optional(
    Type.String({ description: 'With OUTPUT_URL_TTL_S set: when the link expires (unix seconds)' })
  ),
  signature: Type.Optional(Type.String({ description: 'With OUTPUT_URL_TTL_S set: the link signature' }))
})

const fileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Links are capabilities (random request ids); with OUTPUT_URL_TTL_S they must also carry a valid signature.
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!
    if (!path.startsWith('/images/') && !path.startsWith('/requests/')) return
    const refusal = refuseOutputRequest(path, request.query as { expires?: string; signature?: string }, app.config)
    if (refusal) return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: refusal })
  })

  app.route({
    method: ['GET', 'HEAD'],
    url: '/images/:request_id/:file',
    schema: {
      summary: 'A compressed image',
      params: Type.Object({ request_id: RequestId, file: Type.String({ pattern: OUTPUT_FILE_PATTERN }) }),
      querystring: SignedQuery,
      response: responses('The image bytes')
    },
    handler: (request, reply) =>
      sendObject(app.storage, request, reply, `${request.params.request_id}/${request.params.file}`, IMMUTABLE)
  })

  app.route({
    method: ['GET', 'HEAD'],
    url: '/requests/:request_id/output.csv',
    schema: {
      summary: 'The output CSV (available once the request is Completed)',
      params: Type.Object({ request_id: RequestId }),
      querystring: SignedQuery,
      response: responses('text/csv')
    },
    handler: (request, reply) => {
      const { request_id } = request.params
      reply.header('content-disposition', `attachment; filename="${request_id}.csv"`)
      return sendObject(app.storage, request, reply, outputCsvKey(request_id), PRIVATE)
    }
  })
}

/** One object as HTTP: what is sent (200, 206, 304, 416) is decided by readPlan; the bytes are streamed. */
async function sendObject(
  storage: Storage,
  request: FastifyRequest,
  reply: FastifyReply,
  key: string,
  cacheControl: string
) {
  const conditions = {
    range: request.headers.range,
    ifNoneMatch: request.headers['if-none-match'],
    ifModifiedSince: request.headers['if-modified-since']
  }
  if (request.method === 'HEAD') {
    const info = await storage.head(key)
    if (!info) return reply.notFound(`nothing stored at ${key}`)
    const plan = readPlan(info, conditions)
    return reply
      .code(plan.status)
      .headers({ ...responseHeaders(info, plan), 'cache-control': cacheControl })
      .send()
  }
  const read = await storage.get(key, conditions)
  if (!read) return reply.notFound(`nothing stored at ${key}`)
  reply.code(read.plan.status).headers({ ...responseHeaders(read.info, read.plan), 'cache-control': cacheControl })
  return reply.send(read.body ?? undefined)
}

export default fileRoutes
