import type { Socket } from 'node:net'
import type {} from '@fastify/sensible' // reply.badRequest and friends: app.ts registers it first
import type { Config } from '@imgproc/core'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

type Limits = Pick<Config, 'REQUEST_TIMEOUT_MS' | 'CONNECTION_IDLE_TIMEOUT_MS' | 'MAX_CONNECTIONS_PER_CLIENT'>

/** Fastify options for the server's timeouts (they are fixed when the HTTP server is created). */
export function serverTimeouts(config: Limits) {
  return {
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.CONNECTION_IDLE_TIMEOUT_MS,
    http: {
      // Node only enforces requestTimeout when given at creation with a headersTimeout no longer than it; headers
      // get at most 10 s (slow-header senders).
      requestTimeout: config.REQUEST_TIMEOUT_MS,
      headersTimeout: Math.min(10_000, config.REQUEST_TIMEOUT_MS),
      // Checked every 30 s by default, which would let a slow sender overstay by that much.
      connectionsCheckingInterval: Math.min(1000, config.REQUEST_TIMEOUT_MS)
    }
  }
}

const MULTIPART = /^multipart\/form-data\b/i

/**
 * Bounds on what one client can hold: open connections per address, and multipart bodies without a boundary
 * refused as 400 (the parser would otherwise fail with a 500). Uploads have their own turns (uploads/admission.ts).
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Limits }) => {
    const { config } = opts
    const perClient = new Map<string, number>()
    app.server.on('connection', (socket: Socket) => {
      const client = socket.remoteAddress ?? 'unknown'
      const open = (perClient.get(client) ?? 0) + 1
      if (open > config.MAX_CONNECTIONS_PER_CLIENT) {
        socket.end(
          'HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'
        )
        socket.destroySoon()
        return
      }
      perClient.set(client, open)
      socket.once('close', () => {
        const left = (perClient.get(client) ?? 1) - 1
        if (left > 0) perClient.set(client, left)
        else perClient.delete(client)
      })
    })

    app.addHook('onRequest', async (request, reply) => {
      const type = request.headers['content-type']
      if (type && MULTIPART.test(type) && !/;\s*boundary=("[^"]+"|[^;\s]+)/i.test(type))
        return reply.badRequest('multipart/form-data without a boundary parameter')
    })
  },
  { name: 'imgproc-limits', dependencies: ['@fastify/sensible'] }
)
