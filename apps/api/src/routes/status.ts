import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { LRUCache } from 'lru-cache'
import { ErrorBody, RequestId, StatusQuery, statusView, StatusView } from '@imgproc/core'
import { requireApiKey } from '../auth.ts'

// Progress reaches MongoDB in batches (PROGRESS_FLUSH_MS), so a view a second old is nearly as current as the
// data. Pollers get it from memory while one read refreshes it: a dashboard polling hard costs the database about
// one read a second per request and page (each a full-document decode on FerretDB), not one per poll. Unknown
// ids are not cached.
const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const freshMs = app.config.STATUS_CACHE_MS
  const views = new LRUCache<string, StatusView, { id: string; offset: number; limit: number }>({
    max: 2000,
    ttl: freshMs,
    allowStale: true,
    noDeleteOnStaleGet: true,
    fetchMethod: async (_key, _stale, { context: { id, offset, limit } }) => {
      const doc = await app.requests.find(id, limit > 0)
      if (!doc) return undefined
      const page = limit > 0 ? await app.requests.loadPage(doc, offset, limit, doc.product_count) : { products: [], images: new Map() }
      return statusView(doc, app.config.PUBLIC_BASE_URL, { offset, limit, total: doc.product_count, ...page })
    }
  })

  app.get('/status/:request_id', {
    onRequest: requireApiKey,
    schema: {
      summary: 'Progress of a request, with a page of its products and their images',
      description: `Served from a view at most about ${freshMs} ms older than the database (STATUS_CACHE_MS).`,
      security: [{ bearer: [] }],
      params: Type.Object({ request_id: RequestId }),
      querystring: StatusQuery,
      response: { 200: StatusView, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 503: ErrorBody }
    }
  }, async (request, reply) => {
    const { offset, limit } = request.query
    const id = request.params.request_id
    const view = await views.fetch(`${id}|${offset}|${limit}`, { context: { id, offset, limit } })
    return view ?? reply.notFound(`no request with id ${id}`)
  })
}

export default statusRoutes
