import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody, RequestId, StatusQuery, StatusView, statusView } from '@imgproc/core'
import Type from 'typebox'
import { apiKeySecurity, requireApiKey } from '../auth.ts'
import { described, unauthorized, unavailable } from '../openapi.ts'

const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/status/:request_id',
    {
      onRequest: requireApiKey,
      schema: {
        operationId: 'getStatus',
        tags: ['requests'],
        summary: 'Progress of a request, with a page of its products and their images',
        security: apiKeySecurity(app.config),
        params: Type.Object({ request_id: RequestId }),
        querystring: StatusQuery,
        response: {
          200: described(StatusView, "The request's progress and one page of its products"),
          400: described(ErrorBody, 'The request id is not a UUID, or offset or limit is out of range'),
          401: unauthorized,
          404: described(ErrorBody, 'No request with this id (or it belongs to another API key)'),
          503: unavailable
        }
      }
    },
    async (request, reply) => {
      const { offset, limit } = request.query
      const id = request.params.request_id
      const store = app.requests
      const [doc, pages] = await Promise.all([store.find(id), limit > 0 ? store.pagesFor(id, offset, limit) : []])
      // Another tenant's request is answered exactly like one that does not exist; with keys on, a request made
      // before they were (no owner) belongs to nobody who asks.
      const visible = doc && (app.config.API_KEYS.length === 0 || doc.owner === request.tenant)
      if (!visible) return reply.notFound(`no request with id ${id}`)
      const [images, delivery, page] = await Promise.all([
        store.imagesNow(doc),
        store.delivery(id, doc.round),
        limit > 0
          ? store.loadPage(doc, pages, offset, limit, app.config.STATUS_MAX_BYTES)
          : { products: [], images: new Map() }
      ])
      return statusView(doc, images, delivery, app.config, { offset, limit, total: doc.product_count, ...page })
    }
  )
}

export default statusRoutes
