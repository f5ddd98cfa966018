import sensible from '@fastify/sensible'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  type Config,
  createMetrics,
  isDatabaseUnavailable,
  type Metrics,
  type QuotaStore,
  type RequestStore
} from '@imgproc/core'
import { type Storage, StorageError } from '@imgproc/storage'
import Fastify, { type FastifyError, type FastifyServerOptions } from 'fastify'
import { swaggerOptions } from './openapi.ts'
import limits, { serverTimeouts } from './plugins/limits.ts'
import securityHeaders from './plugins/security-headers.ts'
import fileRoutes from './routes/files.ts'
import healthRoutes from './routes/health.ts'
import metricsRoutes from './routes/metrics.ts'
import pageRoutes from './routes/page.ts'
import statusRoutes from './routes/status.ts'
import uploadRoutes from './routes/upload.ts'
import webhookRoutes from './routes/webhook.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    requests: RequestStore
    storage: Storage
    quotas: QuotaStore
    metrics: Metrics
  }
}

export interface AppDeps {
  config: Config
  requests: RequestStore
  storage: Storage
  quotas: QuotaStore
}

export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}) {
  const app = Fastify({
    logger: { level: deps.config.LOG_LEVEL },
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } },
    return503OnClosing: true,
    ...serverTimeouts(deps.config),
    ...options
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('config', deps.config)
  app.decorate('requests', deps.requests)
  app.decorate('quotas', deps.quotas)
  app.decorate(
    'metrics',
    createMetrics('api', () => deps.requests.countActive())
  )
  app.decorate('storage', deps.storage)
  await app.register(sensible)
  await app.register(limits, { config: deps.config, metrics: app.metrics })
  await app.register(securityHeaders, { config: deps.config })
  await app.register(swagger, swaggerOptions(deps.config))
  await app.register(swaggerUi, { routePrefix: '/docs' })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof StorageError && err.kind !== 'invalid-key') {
      request.log.error({ err: err.message, kind: err.kind }, 'storage unavailable')
      return reply
        .code(503)
        .send({ statusCode: 503, error: 'Service Unavailable', message: 'storage is unavailable; retry shortly' })
    }
    if (isDatabaseUnavailable(err)) {
      request.log.error({ err: err.message }, 'database unavailable')
      return reply
        .code(503)
        .send({ statusCode: 503, error: 'Service Unavailable', message: 'the database is unavailable; retry shortly' })
    }
    if (err.code === 'FST_REQ_FILE_TOO_LARGE') {
      return reply.code(413).send({
        statusCode: 413,
        error: 'Payload Too Large',
        message: `the CSV is larger than ${deps.config.MAX_CSV_BYTES} bytes (MAX_CSV_BYTES)`
      })
    }
    const statusCode = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    if (statusCode >= 500) request.log.error({ err }, 'request failed')
    const message = err.validation ? `invalid ${err.validationContext ?? 'request'}: ${err.message}` : err.message
    return reply
      .code(statusCode)
      .send({ statusCode, error: httpReason(statusCode), message: statusCode >= 500 ? 'internal error' : message })
  })

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/json')
      .send({
        statusCode: 404,
        error: 'Not Found',
        message: `nothing at ${request.method} ${request.url.split('?')[0]}`
      })
  )

  await app.register(uploadRoutes)
  await app.register(statusRoutes)
  await app.register(webhookRoutes)
  await app.register(fileRoutes)
  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(pageRoutes)
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  return app
}

function httpReason(code: number): string {
  return (
    (
      {
        400: 'Bad Request',
        401: 'Unauthorized',
        404: 'Not Found',
        413: 'Payload Too Large',
        415: 'Unsupported Media Type',
        503: 'Service Unavailable'
      } as Record<number, string>
    )[code] ?? (code >= 500 ? 'Internal Server Error' : 'Error')
  )
}
