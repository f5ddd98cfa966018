import path from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ErrorBody, OUTPUT_FILE_PATTERN, RequestId } from '@imgproc/core'

/**
 * Output files are addressed by a validated request id and a name we generated, never by a free path, so nothing
 * outside STORAGE_DIR is reachable; @fastify/static adds its own traversal checks beneath that.
 */
const fileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(fastifyStatic, { root: path.resolve(app.config.STORAGE_DIR), serve: false })

  app.get('/images/:request_id/:file', {
    schema: {
      summary: 'A compressed image',
      params: Type.Object({ request_id: RequestId, file: Type.String({ pattern: OUTPUT_FILE_PATTERN }) }),
      response: { 200: Type.Unknown({ description: 'The image bytes' }), 400: ErrorBody, 404: ErrorBody }
    }
  }, (request, reply) => {
    const { request_id, file } = request.params
    return reply.header('cache-control', 'public, max-age=31536000, immutable').sendFile(`${request_id}/${file}`)
  })

  app.get('/requests/:request_id/output.csv', {
    schema: {
      summary: 'The output CSV (available once the request is Completed)',
      params: Type.Object({ request_id: RequestId }),
      response: { 200: Type.Unknown({ description: 'text/csv' }), 400: ErrorBody, 404: ErrorBody }
    }
  }, (request, reply) => {
    const { request_id } = request.params
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${request_id}.csv"`)
      .sendFile(`${request_id}/output.csv`)
  })
}

export default fileRoutes
