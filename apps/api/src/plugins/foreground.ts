import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Foreground } from '../uploads/foreground.ts'

declare module 'fastify' {
  interface FastifyInstance {
    foreground: Foreground
  }
  interface FastifyRequest {
    /** Ends this request's turn in the foreground (once); null for a bulk route. */
    leaveForeground: (() => void) | null
  }
  interface FastifyContextConfig {
    /** Bulk work (an upload's ingest) that gives way to every other request, and is not counted among them. */
    bulk?: boolean
  }
}

/**
 * Counts the requests being answered on every route not marked `bulk`: from arrival until their response is
 * ready to send. Sending it is not counted, so a slow client downloading an output does not hold uploads back.
 */
export default fp(
  async (app: FastifyInstance) => {
    app.decorate('foreground', new Foreground())
    app.decorateRequest('leaveForeground', null)
    app.addHook('onRequest', async (request, reply) => {
      if (request.routeOptions.config.bulk) return
      request.leaveForeground = app.foreground.enter()
      // A request that never reaches onSend (its client went away) ends when its connection does.
      reply.raw.once('close', request.leaveForeground)
    })
    app.addHook('onSend', async (request, _reply, payload) => {
      request.leaveForeground?.()
      return payload
    })
  },
  { name: 'imgproc-foreground' }
)
