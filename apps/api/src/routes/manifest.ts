import { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  ErrorBody,
  Manifest,
  manifestProduct,
  type RequestDocument,
  RequestId,
  type ResolvedOutput
} from '@imgproc/core'
import type { FastifyReply } from 'fastify'
import Type from 'typebox'
import { apiKeySecurity, requireApiKey } from '../auth.ts'
import { described, unauthorized, unavailable } from '../openapi.ts'

/**
 * A request's manifest: every output of every image, per product, with web's srcset strings. Streamed a product
 * at a time from the database (as the output CSV is written), so its size does not decide the API's memory.
 */
const manifestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/requests/:request_id/manifest.json',
    {
      onRequest: requireApiKey,
      schema: {
        operationId: 'getManifest',
        tags: ['outputs'],
        summary: 'Every output of every image (uploads with `outputs`), with srcset strings for web',
        security: apiKeySecurity(app.config),
        params: Type.Object({ request_id: RequestId }),
        response: {
          // Streamed, so given as content (not serialised by the schema).
          200: {
            description: 'The manifest; images still pending have no outputs yet',
            content: { 'application/json': { schema: Manifest } }
          },
          400: described(ErrorBody, 'The request id is not a UUID'),
          401: unauthorized,
          404: described(ErrorBody, 'No such request (or another API key’s), or it was uploaded without `outputs`'),
          503: unavailable
        }
      }
    },
    async (request, reply) => {
      const id = request.params.request_id
      const doc = await app.requests.find(id)
      const visible = doc && (app.config.API_KEYS.length === 0 || doc.owner === request.tenant)
      if (!visible) return reply.notFound(`no request with id ${id}`)
      if (!doc.outputs)
        return reply.notFound(`request ${id} was uploaded without outputs: its images are in status and the output CSV`)
      // A stream: the schema documents it but does not serialise it (hence the plain reply).
      return (reply as FastifyReply)
        .header('content-type', 'application/json; charset=utf-8')
        .header('cache-control', 'private, no-cache')
        .send(Readable.from(manifestJson(app, doc, doc.outputs)))
    }
  )
}

async function* manifestJson(
  app: Parameters<FastifyPluginAsyncTypebox>[0],
  doc: RequestDocument,
  outputs: ResolvedOutput[]
): AsyncGenerator<string> {
  const head = { request_id: doc.request_id, status: doc.status, outputs: outputs.map((o) => o.name) }
  yield `${JSON.stringify(head).slice(0, -1)},"products":[`
  let first = true
  for await (const { product, images } of app.requests.rowsInOrder(doc)) {
    yield (first ? '' : ',') + JSON.stringify(manifestProduct(product, images, outputs, app.config))
    first = false
  }
  yield ']}'
}

export default manifestRoutes
