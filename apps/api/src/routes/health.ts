import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { checkReadiness } from '@imgproc/core'
import Type from 'typebox'
import { described } from '../openapi.ts'

const Health = Type.Object({
  status: Type.String(),
  checks: Type.Optional(Type.Record(Type.String(), Type.String()))
})
const probe = (operationId: string, summary: string) => ({ operationId, summary, tags: ['health'], security: [] })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { ...probe('getHealth', 'Process is up'), response: { 200: described(Health, 'Up') } } },
    async () => ({ status: 'ok' })
  )

  app.get(
    '/readyz',
    {
      schema: {
        ...probe('getReadiness', 'MongoDB reachable and storage answering'),
        response: {
          200: described(Health, 'Ready: every check passed'),
          503: described(Health, 'Not ready: checks says which dependency failed')
        }
      }
    },
    async (_request, reply) => {
      const { ready, body } = await checkReadiness(() => app.requests.ping(), app.storage)
      return reply.code(ready ? 200 : 503).send(body)
    }
  )
}

export default healthRoutes
