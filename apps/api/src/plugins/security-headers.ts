import helmet from '@fastify/helmet'
import type { Config } from '@imgproc/core'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

const origin = (url: string) => (url ? [new URL(url).origin] : [])

/**
 * Security headers on every response (page, docs, API). The page and Swagger UI load their scripts from files,
 * so the CSP allows no inline script at all. Output images stay embeddable on customers' own sites
 * (Cross-Origin-Resource-Policy: cross-origin).
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Pick<Config, 'PUBLIC_BASE_URL'> }) => {
    await app.register(helmet, {
      global: true,
      crossOriginResourcePolicy: { policy: 'cross-origin' },
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'script-src': ["'self'"],
          'script-src-attr': ["'none'"],
          'connect-src': ["'self'", ...origin(opts.config.PUBLIC_BASE_URL)],
          // The gallery shows each input image ("before") from wherever the customer's CSV points.
          'img-src': ["'self'", 'data:', 'https:', 'http:'],
          // TLS is the operator's proxy's business; upgrading would break a plain-HTTP local install.
          'upgrade-insecure-requests': null
        }
      }
    })
  },
  { name: 'imgproc-security-headers' }
)
