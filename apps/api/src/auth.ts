import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

const digest = (s: string) => createHash('sha256').update(s).digest()

/** onRequest hook: when API_KEYS is set, require `Authorization: Bearer <key>` (compared in constant time). */
export async function requireApiKey(this: { config: { API_KEYS: string[] } }, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const keys = request.server.config.API_KEYS
  if (keys.length === 0) return
  const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim()
  const ok = given !== undefined && keys.some((k) => timingSafeEqual(digest(k), digest(given)))
  if (!ok) return reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'a valid API key is required: Authorization: Bearer <key>' })
}
