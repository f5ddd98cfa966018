import type {} from '@fastify/sensible' // reply.tooManyRequests and friends: app.ts registers it first
import type { Config, Metrics, QuotaStore } from '@imgproc/core'
import type { FastifyInstance, FastifyReply, FastifyRequest, preParsingAsyncHookHandler } from 'fastify'
import { BodyRate } from './body-rate.ts'
import { Gate, TenantGates } from './slots.ts'

type Settings = Pick<
  Config,
  | 'API_KEYS'
  | 'MAX_CONCURRENT_UPLOADS'
  | 'MAX_UPLOADS_PER_TENANT'
  | 'UPLOAD_QUEUE_MS'
  | 'UPLOAD_MIN_BYTES_PER_S'
  | 'UPLOAD_RATE_WINDOW_MS'
  | 'QUOTA_REQUESTS_PER_HOUR'
  | 'QUOTA_IMAGES_PER_DAY'
>

/** What an upload holds while its body is read; given back when it is answered or aborted. */
interface Admitted {
  tenant?: string
  global?: boolean
  stopWatch?: () => void
}

declare module 'fastify' {
  interface FastifyRequest {
    admitted?: Admitted
  }
}

/** How often the body rate is checked. */
const TICK_MS = 500

/**
 * Who may send an upload's body, and how slowly. Before a byte of it is read (preParsing, after the API key
 * check): a tenant with no quota left is refused (429); the tenant takes one of its own MAX_UPLOADS_PER_TENANT
 * turns (429 when none comes within UPLOAD_QUEUE_MS), then one of the MAX_CONCURRENT_UPLOADS turns (503). While
 * it is read, a body slower than UPLOAD_MIN_BYTES_PER_S over UPLOAD_RATE_WINDOW_MS is answered 408 and its
 * connection closed. Every early answer closes the connection: the unread body is never read.
 */
export function uploadAdmission(
  app: FastifyInstance,
  deps: {
    config: Settings
    quotas: QuotaStore
    metrics: Pick<Metrics, 'uploadsBusy' | 'uploadsRefused' | 'quotaRejections'>
  }
) {
  const { config, quotas, metrics } = deps
  const global = new Gate(config.MAX_CONCURRENT_UPLOADS)
  const tenants = new TenantGates(config.MAX_UPLOADS_PER_TENANT)
  const queueS = Math.max(1, Math.ceil(config.UPLOAD_QUEUE_MS / 1000))
  const who = config.API_KEYS.length > 0 ? 'API key' : 'client address'
  const refuse = (reply: FastifyReply, retryAfterS: number) =>
    reply.header('retry-after', String(retryAfterS)).header('connection', 'close')

  const refuseWithoutQuota: preParsingAsyncHookHandler = async (request, reply, payload) => {
    const spent = await quotas.exhausted(request.tenant, {
      requests_per_hour: config.QUOTA_REQUESTS_PER_HOUR,
      images_per_day: config.QUOTA_IMAGES_PER_DAY
    })
    if (!spent) return payload
    metrics.quotaRejections.inc({ quota: spent.quota })
    const message =
      spent.quota === 'requests_per_hour'
        ? `at most ${spent.limit} uploads per hour (QUOTA_REQUESTS_PER_HOUR); retry in ${spent.retryAfterS} s`
        : `the budget of ${spent.limit} images per day is used up (QUOTA_IMAGES_PER_DAY); retry in ${spent.retryAfterS} s`
    return refuse(reply, spent.retryAfterS).tooManyRequests(message)
  }

  const takeTurns: preParsingAsyncHookHandler = async (request, reply, payload) => {
    const admitted: Admitted = {}
    request.admitted = admitted
    if (!(await tenants.acquire(request.tenant, config.UPLOAD_QUEUE_MS))) {
      metrics.uploadsRefused.inc({ reason: 'tenant_busy' })
      return refuse(reply, queueS).tooManyRequests(
        `at most ${config.MAX_UPLOADS_PER_TENANT} upload(s) per ${who} are read at once (MAX_UPLOADS_PER_TENANT); retry in ${queueS} s`
      )
    }
    admitted.tenant = request.tenant
    if (!(await global.acquire(config.UPLOAD_QUEUE_MS))) {
      metrics.uploadsBusy.inc()
      return refuse(reply, queueS).serviceUnavailable(
        `${config.MAX_CONCURRENT_UPLOADS} uploads are being read (MAX_CONCURRENT_UPLOADS); retry in ${queueS} s`
      )
    }
    admitted.global = true
    // The client left while it waited: its abort hook has run already, so the turns go back here.
    if (request.raw.socket.destroyed) await giveBack(request)
    else if (config.UPLOAD_MIN_BYTES_PER_S > 0) admitted.stopWatch = watchRate(request, reply)
    return payload
  }

  /** Checks the body's pace every tick until it has all arrived; a body too slow is answered 408 and closed. */
  function watchRate(request: FastifyRequest, reply: FastifyReply): () => void {
    const socket = request.raw.socket
    const rate = new BodyRate(config.UPLOAD_MIN_BYTES_PER_S, config.UPLOAD_RATE_WINDOW_MS, {
      at: Date.now(),
      bytes: socket.bytesRead
    })
    const timer = setInterval(() => {
      if (request.raw.complete || reply.sent) return clearInterval(timer)
      if (rate.check(Date.now(), socket.bytesRead)) return
      clearInterval(timer)
      metrics.uploadsRefused.inc({ reason: 'too_slow' })
      request.log.info({ bytes_read: socket.bytesRead }, 'upload cut off: body too slow')
      // Answered now, through the error handler; the parser waiting on the body then fails unseen (reply.sent).
      reply
        .header('connection', 'close')
        .send(
          app.httpErrors.requestTimeout(
            `the upload's body arrived slower than ${config.UPLOAD_MIN_BYTES_PER_S} bytes/s over ${config.UPLOAD_RATE_WINDOW_MS} ms (UPLOAD_MIN_BYTES_PER_S, UPLOAD_RATE_WINDOW_MS)`
          )
        )
    }, TICK_MS)
    return () => clearInterval(timer)
  }

  const giveBack = async (request: FastifyRequest) => {
    const admitted = request.admitted
    if (!admitted) return
    request.admitted = undefined
    admitted.stopWatch?.()
    if (admitted.global) global.release()
    if (admitted.tenant !== undefined) tenants.release(admitted.tenant)
  }

  return { preParsing: [refuseWithoutQuota, takeTurns], onResponse: giveBack, onRequestAbort: giveBack }
}
