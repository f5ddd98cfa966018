import sensible from '@fastify/sensible'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import {
  type Config,
  type CreationPauses,
  createMetrics,
  type ManagementPauses,
  type Metrics,
  type QuotaStore,
  type RequestStore,
  redactingDestination
} from '@imgproc/core'
import type { Storage } from '@imgproc/storage'
import Fastify, { type FastifyServerOptions } from 'fastify'
import { swaggerOptions } from './openapi.ts'
import errors from './plugins/errors.ts'
import foreground from './plugins/foreground.ts'
import limits, { serverTimeouts } from './plugins/limits.ts'
import securityHeaders from './plugins/security-headers.ts'
import fileRoutes from './routes/files.ts'
import healthRoutes from './routes/health.ts'
import manifestRoutes from './routes/manifest.ts'
import metricsRoutes from './routes/metrics.ts'
import pageRoutes from './routes/page.ts'
import requestRoutes from './routes/requests.ts'
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
    creationPauses: CreationPauses
    managementPauses: ManagementPauses
  }
}

export interface AppDeps {
  config: Config
  requests: RequestStore
  storage: Storage
  quotas: QuotaStore
  /** Pauses inside request creation: only the crash test's entry point passes any (test/support/gated-api.ts). */
  creationPauses?: CreationPauses
  /** Pauses inside cancel and retry: only specs pass any. */
  managementPauses?: ManagementPauses
}

export async function buildApp(deps: AppDeps, options: FastifyServerOptions = {}) {
  const app = Fastify({
    // Every line through redactSecrets: signed output links are logged without their signature.
    logger: { level: deps.config.LOG_LEVEL, stream: redactingDestination() },
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
  app.decorate('creationPauses', deps.creationPauses ?? {})
  app.decorate('managementPauses', deps.managementPauses ?? {})
  await app.register(sensible)
  // First, so that every route and plugin after it answers errors through it.
  await app.register(errors, { config: deps.config })
  await app.register(limits, { config: deps.config })
  await app.register(securityHeaders, { config: deps.config })
  await app.register(foreground)
  await app.register(swagger, swaggerOptions(deps.config))
  await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(uploadRoutes)
  await app.register(statusRoutes)
  await app.register(requestRoutes)
  await app.register(webhookRoutes)
  await app.register(fileRoutes)
  await app.register(manifestRoutes)
  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(pageRoutes)
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  return app
}
