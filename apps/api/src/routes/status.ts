import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody, RequestId, StatusQuery, StatusView, statusView } from '@imgproc/core'
import Type from 'typebox'
import { requireApiKey } from '../auth.ts'

const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/status/:request_id',
    {
      onRequest: requireApiKey,
      schema: {
        summary: 'Progress of a request, with a page of its products and their images',
        security: [{ bearer: [] }],
        params: Type.Object({ request_id: RequestId }),
        querystring: StatusQuery,
        response: { 200: StatusView, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody }
      }
    },
    async (request, reply) => {
      const { offset, limit } = request.query
      const id = request.params.request_id
      const store = app.requests
      const doc = await store.find(id)
      // Another tenant's request is answered exactly like one that does not exist; with keys on, a request made
      // before they were (no owner) belongs to nobody who asks.
      const visible = doc && (app.config.API_KEYS.length === 0 || doc.owner === request.tenant)
      if (!visible) return reply.notFound(`no request with id ${id}`)
      const [images, delivery, page] = await Promise.all([
        store.imagesNow(doc),
        store.delivery(id),
        limit > 0
          ? store.loadPage(doc, offset, limit, app.config.STATUS_MAX_BYTES)
          : { products: [], images: new Map() }
      ])
      return statusView(doc, images, delivery, app.config, { offset, limit, total: doc.product_count, ...page })
    }
  )
}

export default statusRoutes
