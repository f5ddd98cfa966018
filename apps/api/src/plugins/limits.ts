import type { Socket } from 'node:net'
import type {} from '@fastify/sensible' // reply.badRequest and friends: app.ts registers it first
import type { Config, Metrics } from '@imgproc/core'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'

type Limits = Pick<
  Config,
  | 'REQUEST_TIMEOUT_MS'
  | 'CONNECTION_IDLE_TIMEOUT_MS'
  | 'MAX_CONNECTIONS_PER_CLIENT'
  | 'MAX_CONCURRENT_UPLOADS'
  | 'UPLOAD_QUEUE_MS'
>

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

/** A counting semaphore whose waiters give up after a while: a turn, or false when none came in time. */
export class Gate {
  private active = 0
  private readonly waiting: Array<() => void> = []
  constructor(private readonly size: number) {}

  acquire(waitMs: number): Promise<boolean> {
    if (this.active < this.size) return Promise.resolve(++this.active > 0)
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.active++
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(wake), 1)
        resolve(false)
      }, waitMs)
      this.waiting.push(wake)
    })
  }

  release(): void {
    this.active--
    this.waiting.shift()?.()
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    uploadTurn?: boolean
  }
}

const MULTIPART = /^multipart\/form-data\b/i

/**
 * Bounds on what one client can hold: open connections per address, uploads parsed at once, and multipart
 * bodies without a boundary refused as 400 (the parser would otherwise fail with a 500).
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Limits; metrics: Pick<Metrics, 'uploadsBusy'> }) => {
    const { config, metrics } = opts
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

    const uploads = new Gate(config.MAX_CONCURRENT_UPLOADS)
    const isUpload = (request: FastifyRequest) => request.method === 'POST' && request.routeOptions.url === '/upload'
    const release = async (request: FastifyRequest) => {
      if (!request.uploadTurn) return
      request.uploadTurn = false
      uploads.release()
    }
    // preParsing: after the API key check, before a byte of the body is read.
    app.addHook('preParsing', async (request, reply, payload) => {
      if (!isUpload(request)) return payload
      if (!(await uploads.acquire(config.UPLOAD_QUEUE_MS))) {
        const retryAfterS = Math.max(1, Math.ceil(config.UPLOAD_QUEUE_MS / 1000))
        metrics.uploadsBusy.inc()
        return reply
          .header('retry-after', String(retryAfterS))
          .header('connection', 'close')
          .serviceUnavailable(
            `${config.MAX_CONCURRENT_UPLOADS} uploads are being read (MAX_CONCURRENT_UPLOADS); retry in ${retryAfterS} s`
          )
      }
      request.uploadTurn = true
      return payload
    })
    app.addHook('onResponse', release)
    app.addHook('onRequestAbort', release)
  },
  { name: 'imgproc-limits', dependencies: ['@fastify/sensible'] }
)
