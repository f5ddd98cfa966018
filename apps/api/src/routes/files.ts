import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  CONTENT_FILE_PATTERN,
  CONTENT_SCOPE_PATTERN,
  CONTENT_TYPES,
  ErrorBody,
  EXTENSIONS,
  OUTPUT_FILE_PATTERN,
  outputCsvKey,
  outputPath,
  RequestId,
  refuseOutputRequest
} from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import type { FastifyReply, FastifyRequest } from 'fastify'
import Type, { type TObject, type TSchema } from 'typebox'
import { isConditional, readPlan, responseHeaders } from '../conditional.ts'
import { described, unavailable } from '../openapi.ts'

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

/** The media types of output images, from the encoders' extension table. */
const IMAGE_TYPES = [...new Set(Object.values(EXTENSIONS).map((extension) => CONTENT_TYPES[extension]!))]

const header = (description: string, type = 'string') => ({ type, description })
const objectHeaders = {
  etag: header('Entity tag: send it back in If-None-Match to get 304 when unchanged'),
  'last-modified': header('When the object was stored'),
  'cache-control': header('Images are immutable; the CSV is revalidated'),
  'accept-ranges': header('bytes')
}
const lengthHeader = { 'content-length': header('Bytes in this answer', 'integer') }

/** What a download may ask for: one byte range, or an answer only when the object changed. */
const Conditions = Type.Object({
  range: Type.Optional(Type.String({ description: 'One byte range, bytes=start-end (start- or -suffix): 206' })),
  'if-none-match': Type.Optional(Type.String({ description: 'An ETag from an earlier answer: 304 when it matches' })),
  'if-modified-since': Type.Optional(Type.String({ description: 'An HTTP date: 304 when not modified since' }))
})

const HEAD_AND_RANGES =
  'HEAD answers with the same headers and no body. Range, If-None-Match and If-Modified-Since are honoured.'

/** An object's answers: 200 whole, 206 a byte range, 304 not modified, 416 a range past the end. */
function fileResponses(mediaTypes: string[], bytes: TSchema, what: string) {
  const content = Object.fromEntries(mediaTypes.map((type) => [type, { schema: bytes }]))
  return {
    200: { description: what, headers: { ...objectHeaders, ...lengthHeader }, content },
    206: {
      description: 'A byte range of it',
      headers: { ...objectHeaders, ...lengthHeader, 'content-range': header('bytes start-end/size') },
      content
    },
    304: Type.Null({ description: 'Not modified: the If-None-Match entity tag matches', headers: objectHeaders }),
    400: described(ErrorBody, 'The request id or the file name is malformed'),
    403: described(ErrorBody, 'With OUTPUT_URL_TTL_S set: the link is unsigned, its signature wrong or expired'),
    404: described(ErrorBody, 'Nothing stored under this name (yet)'),
    416: Type.Null({
      description: 'The range starts past the end',
      headers: { 'content-range': header('bytes */size') }
    }),
    503: unavailable
  }
}

const fileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /**
   * Links are capabilities (random request ids); with OUTPUT_URL_TTL_S they must also carry a valid signature.
   * Decided in the matched route, over the canonical path built from its params: the raw URL may spell the same
   * route differently (percent-encoded characters, absolute form).
   */
  const authorise = async (request: FastifyRequest) => {
    const refusal = refuseOutputRequest(
      outputPath(keyOf(request.params as Params)),
      request.query as Signed,
      app.config
    )
    if (refusal) throw app.httpErrors.forbidden(refusal)
  }

  // HEAD and GET share a route each: Fastify's own HEAD would send no Content-Length. @fastify/swagger lists the
  // GET operations only (the document says HEAD is answered); HEAD goes first, so Fastify adds none of its own.
  for (const method of ['HEAD', 'GET'] as const) {
    app.route({
      method,
      url: '/images/:request_id/:file',
      onRequest: authorise,
      schema: {
        operationId: 'getOutputImage',
        tags: ['outputs'],
        summary: 'A compressed image',
        description: HEAD_AND_RANGES,
        security: [],
        params: Type.Object({ request_id: RequestId, file: Type.String({ pattern: OUTPUT_FILE_PATTERN }) }),
        querystring: SignedQuery,
        headers: Conditions,
        response: fileResponses(IMAGE_TYPES, Type.String({ format: 'binary' }), 'The image')
      },
      handler: (request, reply) => sendObject(app.storage, request, reply, keyOf(request.params))
    })

    app.route({
      method,
      url: '/images/o/:scope/:file',
      onRequest: authorise,
      schema: {
        operationId: 'getSharedOutputImage',
        tags: ['outputs'],
        summary: 'A compressed image shared by requests of one tenant (docs/reuse.md)',
        description: `Content-addressed: the same source bytes and settings keep this URL across requests. ${HEAD_AND_RANGES}`,
        security: [],
        params: Type.Object({
          scope: Type.String({ pattern: CONTENT_SCOPE_PATTERN, description: "The tenant's scope" }),
          file: Type.String({
            pattern: CONTENT_FILE_PATTERN,
            description: '<name>.<ext>, the name a keyed HMAC of the source and its settings'
          })
        }),
        querystring: SignedQuery,
        headers: Conditions,
        response: fileResponses(IMAGE_TYPES, Type.String({ format: 'binary' }), 'The image')
      },
      handler: (request, reply) => sendObject(app.storage, request, reply, keyOf(request.params))
    })

    /** An output CSV: round 0's, or a retry's (`round` in its params, and in the file name it downloads as). */
    const outputCsvRoute = (url: string, operationId: string, summary: string, description: string, params: TObject) =>
      app.route({
        method,
        url,
        onRequest: authorise,
        schema: {
          operationId,
          tags: ['outputs'],
          summary,
          description,
          security: [],
          params,
          querystring: SignedQuery,
          headers: Conditions,
          response: fileResponses(
            ['text/csv'],
            Type.String(),
            'The output CSV: S. No., Product Name, Input Image Urls, Output Image Urls'
          )
        },
        handler: (request, reply) => {
          const { request_id, round } = request.params as { request_id: string; round?: string }
          const name = round === undefined ? request_id : `${request_id}-${round}`
          reply.header('content-disposition', `attachment; filename="${name}.csv"`)
          return sendObject(app.storage, request, reply, keyOf(request.params as Params))
        }
      })
    outputCsvRoute(
      '/requests/:request_id/output.csv',
      'getOutputCsv',
      'The output CSV (available once the request is Completed)',
      HEAD_AND_RANGES,
      Type.Object({ request_id: RequestId })
    )
    outputCsvRoute(
      '/requests/:request_id/:round/output.csv',
      'getRetriedOutputCsv',
      "The output CSV of a request's retry (r1 for the first, r2 for the second, …)",
      `Status gives its URL once the retry has ended. ${HEAD_AND_RANGES}`,
      Type.Object({ request_id: RequestId, round: Type.String({ pattern: '^r[1-9][0-9]{0,5}$' }) })
    )
  }
}

type Params = { request_id: string; file?: string; round?: string } | { scope: string; file: string }
type Signed = { expires?: string; signature?: string }

/**
 * The storage key a route's params name: a shared output (by scope), a request's image, or (without a file name)
 * the output CSV of a round.
 */
const keyOf = (params: Params) => {
  if ('scope' in params) return `o/${params.scope}/${params.file}`
  const { request_id, file, round } = params
  return file !== undefined
    ? `${request_id}/${file}`
    : outputCsvKey(request_id, round === undefined ? 0 : Number(round.slice(1)))
}

/**
 * One object as HTTP. A plain GET is one read, whose own info describes the object. Anything conditional is
 * decided from the stat first (readPlan), and then only the bytes the answer needs are read.
 */
async function sendObject(storage: Storage, request: FastifyRequest, reply: FastifyReply, key: string) {
  const conditions = {
    range: request.headers.range,
    ifNoneMatch: request.headers['if-none-match'],
    ifModifiedSince: request.headers['if-modified-since']
  }
  const head = request.method === 'HEAD'
  if (!head && !isConditional(conditions)) {
    const read = await storage.read(key)
    if (!read) return reply.notFound(`nothing stored at ${key}`)
    return reply
      .code(200)
      .headers(responseHeaders(read.info, { status: 200 }))
      .send(read.body)
  }
  const info = await storage.stat(key)
  if (!info) return reply.notFound(`nothing stored at ${key}`)
  const plan = readPlan(info, conditions)
  if (head || (plan.status !== 200 && plan.status !== 206))
    return reply.code(plan.status).headers(responseHeaders(info, plan)).send()
  const read = await storage.read(key, plan.status === 206 ? { start: plan.start, end: plan.end } : undefined)
  // Removed between the two calls (retention): as if it had never been there.
  if (!read) return reply.notFound(`nothing stored at ${key}`)
  return reply.code(plan.status).headers(responseHeaders(info, plan)).send(read.body)
}

export default fileRoutes
