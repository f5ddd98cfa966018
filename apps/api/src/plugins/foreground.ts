import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Foreground } from '../uploads/foreground.ts'

declare module 'fastify' {
  interface FastifyInstance {
    foreground: Foreground
  }
  interface FastifyContextConfig {
    /** Bulk work (an upload's ingest) that gives way to every other request, and is not counted among them. */
    bulk?: boolean
  }
}

/** Counts the requests in flight on every route not marked `bulk`, from arrival until the response is closed. */
export default fp(
  async (app: FastifyInstance) => {
    app.decorate('foreground', new Foreground())
    app.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.config.bulk) return
      // 'close' comes once the response is sent or the connection is gone, whichever ends the request.
      reply.raw.once('close', app.foreground.enter())
    })
  },
  { name: 'imgproc-foreground' }
)
