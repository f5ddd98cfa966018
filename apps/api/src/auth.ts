import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is asking: `key:<hash prefix>` for an API key (the key itself is never stored), else `ip:<address>`. */
    tenant: string
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest()
const bearer = (request: FastifyRequest) => /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim()
const unauthorized = (reply: FastifyReply, message: string) =>
  reply.header('www-authenticate', 'Bearer').unauthorized(message)

/** The tenant id of an API key: stable, short, and not the key. */
export function tenantOfKey(key: string): string {
  return `key:${digest(key).toString('hex').slice(0, 16)}`
}

/**
 * onRequest hook: when API_KEYS is set, require `Authorization: Bearer <key>` (compared in constant time) and
 * name the tenant after the key; otherwise the tenant is the client address (quotas still apply per client).
 */
export async function requireApiKey(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const keys = request.server.config.API_KEYS
  if (keys.length === 0) {
    request.tenant = `ip:${request.ip}`
    return
  }
  const given = bearer(request)
  const key = given === undefined ? undefined : keys.find((k) => timingSafeEqual(digest(k), digest(given)))
  if (key === undefined) return unauthorized(reply, 'a valid API key is required: Authorization: Bearer <key>')
  request.tenant = tenantOfKey(key)
}

/** An operation guarded by requireApiKey, as the document says it: a bearer key when API_KEYS is set, else none. */
export function apiKeySecurity(config: { API_KEYS: string[] }): Array<Record<string, string[]>> {
  return config.API_KEYS.length > 0 ? [{ bearer: [] }] : []
}

/** onRequest hook for /metrics: with METRICS_TOKEN set, scrapers must present it (separately from API keys). */
export async function requireMetricsToken(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const token = request.server.config.METRICS_TOKEN
  if (!token) return
  const given = bearer(request)
  if (given === undefined || !timingSafeEqual(digest(given), digest(token)))
    return unauthorized(reply, 'the metrics token is required: Authorization: Bearer <METRICS_TOKEN>')
}
