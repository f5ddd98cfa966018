import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireMetricsToken } from '../auth.ts'

const metricsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { registry } = app.metrics
  app.get('/metrics', { onRequest: requireMetricsToken, schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics())
  )
}

export default metricsRoutes
