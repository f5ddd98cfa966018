import { access, constants } from 'node:fs/promises'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'

const Health = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { summary: 'Process is up', response: { 200: Health } } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: { summary: 'MongoDB reachable and storage writable', response: { 200: Health, 503: Health } } }, async (_request, reply) => {
    const [db, storage] = await Promise.allSettled([app.requests.ping(), access(app.config.STORAGE_DIR, constants.W_OK)])
    const checks = { mongodb: db.status === 'fulfilled' ? 'ok' : 'unavailable', storage: storage.status === 'fulfilled' ? 'ok' : 'not writable' }
    const ready = db.status === 'fulfilled' && storage.status === 'fulfilled'
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks })
  })
}

export default healthRoutes
