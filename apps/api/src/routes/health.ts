import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkReadiness } from '@imgproc/core'
import Type from 'typebox'

const Health = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { summary: 'Process is up', response: { 200: Health } } }, async () => ({
    status: 'ok'
  }))

  app.get(
    '/readyz',
    { schema: { summary: 'MongoDB reachable and storage answering', response: { 200: Health, 503: Health } } },
    async (_request, reply) => {
      const { ready, body } = await checkReadiness(() => app.requests.ping(), app.storage)
      return reply.code(ready ? 200 : 503).send(body)
    }
  )
}

export default healthRoutes
