import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ErrorBody, RequestId, StatusQuery, statusView, StatusView } from '@imgproc/core'
import { requireApiKey } from '../auth.ts'

const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/status/:request_id', {
    onRequest: requireApiKey,
    schema: {
      summary: 'Progress of a request, with a page of its products and their images',
      security: [{ bearer: [] }],
      params: Type.Object({ request_id: RequestId }),
      querystring: StatusQuery,
      response: { 200: StatusView, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { offset, limit } = request.query
    const doc = await app.requests.find(request.params.request_id, limit > 0)
    if (!doc) return reply.notFound(`no request with id ${request.params.request_id}`)
    const page = limit > 0 ? await app.requests.loadPage(doc, offset, limit, doc.product_count) : { products: [], images: new Map() }
    return statusView(doc, app.config.PUBLIC_BASE_URL, { offset, limit, total: doc.product_count, ...page })
  })
}

export default statusRoutes
