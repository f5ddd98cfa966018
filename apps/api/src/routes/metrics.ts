import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { createMetrics } from '@imgproc/core'

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const metrics = createMetrics('api', () => app.requests.countByStatus())
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  )
}

export default metricsRoutes
