import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorBody, ID_HEADER, parseSignatureHeader, SIGNATURE_HEADER, verifySignature } from '@imgproc/core'
import Type from 'typebox'
import { described, unavailable } from '../openapi.ts'

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string
  }
}

/** Our own receiver of completion events: verifies the signature over the raw bytes and stores each event once. */
const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The signature is checked over the raw bytes before JSON.parse: an unsigned sender learns nothing from parse errors.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (request, body, done) => {
    request.rawBody = body as string
    const check = verifySignature(
      app.config.WEBHOOK_SECRET,
      body as string,
      request.headers[SIGNATURE_HEADER] as string | undefined
    )
    if (!check.ok) return done(app.httpErrors.unauthorized(check.reason))
    try {
      done(null, JSON.parse(body as string))
    } catch {
      done(app.httpErrors.badRequest('body is not valid JSON'))
    }
  })

  app.post(
    '/webhook',
    {
      schema: {
        operationId: 'receiveWebhook',
        tags: ['webhooks'],
        summary: 'Receive a signed request.completed event (verifies Webhook-Signature; idempotent on Webhook-Id)',
        security: [],
        headers: Type.Object({
          [SIGNATURE_HEADER]: Type.Optional(
            Type.String({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">' })
          ),
          [ID_HEADER]: Type.Optional(Type.String({ description: "The event's event_id" }))
        }),
        body: Type.Object({
          event_id: Type.String({ minLength: 1, maxLength: 200 }),
          request_id: Type.Optional(Type.String())
        }),
        response: {
          204: Type.Null({ description: 'Stored (or already stored)' }),
          400: described(ErrorBody, 'Not JSON, no event_id, or Webhook-Id differs from event_id'),
          401: described(ErrorBody, 'Webhook-Signature is missing, malformed, stale or wrong'),
          413: described(ErrorBody, 'The body is larger than 1 MiB'),
          415: described(ErrorBody, 'The body is not application/json'),
          503: unavailable
        }
      },
      // No well-formed signature header: refused before the body is read at all.
      onRequest: async (request, reply) => {
        const header = request.headers[SIGNATURE_HEADER] as string | undefined
        if (!parseSignatureHeader(header))
          return reply.unauthorized(header ? 'malformed Webhook-Signature header' : 'missing Webhook-Signature header')
      },
      // Signature before schema, also for a body that no parser saw: it should learn nothing about what we expect.
      preValidation: async (request, reply) => {
        const check = verifySignature(
          app.config.WEBHOOK_SECRET,
          request.rawBody ?? '',
          request.headers[SIGNATURE_HEADER] as string | undefined
        )
        if (!check.ok) return reply.unauthorized(check.reason)
      }
    },
    async (request, reply) => {
      const event = request.body
      const headerId = request.headers[ID_HEADER]
      if (headerId !== undefined && headerId !== event.event_id)
        return reply.badRequest('Webhook-Id does not match the event_id in the body')
      const stored = await app.requests.storeWebhookEvent({
        event_id: event.event_id,
        request_id: event.request_id ?? null,
        received_at: new Date(),
        payload: event
      })
      request.log.info(
        { event_id: event.event_id, request_id: event.request_id, duplicate: !stored },
        'webhook event received'
      )
      return reply.code(204).send(null)
    }
  )
}

export default webhookRoutes
