import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  cancelRefusal,
  decodeCursor,
  ErrorBody,
  encodeCursor,
  ListQuery,
  RequestId,
  RequestList,
  RequestSummary,
  requestSummary,
  retryPlan,
  type VisibleRequest
} from '@imgproc/core'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { apiKeySecurity, requireApiKey } from '../auth.ts'
import { described, unauthorized, unavailable } from '../openapi.ts'

const Params = Type.Object({ request_id: RequestId })
const notFound = described(ErrorBody, 'No request with this id (or it belongs to another API key)')

/**
 * The caller's requests: the list, newest first, and cancel and retry. The tenant is the API key's owner, as for
 * status; without API keys everything is one tenant. The decisions are in core's requests/management.ts.
 */
const requestRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app
  const withKeys = config.API_KEYS.length > 0

  /** The request if the caller may see it: another tenant's is answered exactly like one that does not exist. */
  const visible = async (request: FastifyRequest, id: string): Promise<VisibleRequest> => {
    const doc = await app.requests.find(id)
    if (!doc || (withKeys && doc.owner !== request.tenant)) throw app.httpErrors.notFound(`no request with id ${id}`)
    return doc
  }
  /** The request as it is now; retention may have removed it since the decision, which is a 404 like any other. */
  const current = async (id: string): Promise<VisibleRequest> => {
    const doc = await app.requests.find(id)
    if (!doc) throw app.httpErrors.notFound(`no request with id ${id}`)
    return doc
  }
  const summary = async (id: string) => {
    const doc = await current(id)
    return requestSummary(doc, await app.requests.imagesNow(doc))
  }

  app.get(
    '/requests',
    {
      onRequest: requireApiKey,
      schema: {
        operationId: 'listRequests',
        tags: ['requests'],
        summary: "The caller's requests, newest first, a page at a time",
        security: apiKeySecurity(config),
        querystring: ListQuery,
        response: {
          200: described(RequestList, 'One page of requests, and the cursor of the next'),
          400: described(ErrorBody, 'limit is out of range, or cursor is not one this API gave'),
          401: unauthorized,
          503: unavailable
        }
      }
    },
    async (request, reply) => {
      const { limit, cursor } = request.query
      const after = cursor === undefined ? null : decodeCursor(cursor)
      if (cursor !== undefined && !after)
        return reply.badRequest('cursor: not a cursor this API gave; start without one')
      // One more than asked tells whether there is a next page.
      const docs = await app.requests.management.list(withKeys ? request.tenant : null, limit + 1, after)
      const page = docs.slice(0, limit)
      const items = await Promise.all(page.map(async (doc) => requestSummary(doc, await app.requests.imagesNow(doc))))
      const last = page.at(-1)
      return { items, next_cursor: docs.length > limit && last ? encodeCursor(last) : null }
    }
  )

  app.post(
    '/requests/:request_id/cancel',
    {
      onRequest: requireApiKey,
      schema: {
        operationId: 'cancelRequest',
        tags: ['requests'],
        summary: 'Cancel a Pending or Processing request',
        description:
          'No pending image is started any more; images under way finish or are abandoned within LEASE_MS. The ' +
          'request is Cancelled at once; its output CSV (images not done have empty slots) follows shortly, then ' +
          'a signed request.cancelled event to its webhook_url.',
        security: apiKeySecurity(config),
        params: Params,
        response: {
          202: described(RequestSummary, 'Cancelled: the output CSV of what was done and the event follow'),
          400: described(ErrorBody, 'The request id is not a UUID'),
          401: unauthorized,
          404: notFound,
          409: described(
            ErrorBody,
            'The request is Completed, Failed or Cancelled already, or a retry is being set up'
          ),
          503: unavailable
        }
      }
    },
    async (request, reply) => {
      const id = request.params.request_id
      const doc = await visible(request, id)
      const refusal = cancelRefusal(doc)
      if (refusal) return reply.conflict(refusal)
      // It may have finished since it was read: the store's transition decides.
      if (!(await app.requests.management.cancel(id, app.managementPauses)))
        return reply.conflict(cancelRefusal(await current(id)) ?? `request ${id} changed while it was being cancelled`)
      request.log.info({ request_id: id }, 'request cancelled')
      return reply.code(202).send(await summary(id))
    }
  )

  app.post(
    '/requests/:request_id/retry',
    {
      onRequest: requireApiKey,
      schema: {
        operationId: 'retryRequest',
        tags: ['requests'],
        summary: 'Process again the images of a finished request that failed (or, if cancelled, were not done)',
        description:
          'The request goes back to Processing, in the same request. When the re-queued images end, a new output ' +
          'CSV is written and a new request.completed event (a new event_id) is sent. The re-queued images count ' +
          "towards the API key's QUOTA_IMAGES_PER_DAY as an upload's do.",
        security: apiKeySecurity(config),
        params: Params,
        response: {
          202: described(RequestSummary, 'Re-queued: the request is Processing again'),
          400: described(ErrorBody, 'The request id is not a UUID'),
          401: unauthorized,
          404: notFound,
          409: described(
            ErrorBody,
            'The request is still Pending or Processing (or its cancellation is being wound up), or no image failed'
          ),
          413: described(ErrorBody, 'More images to retry than the whole QUOTA_IMAGES_PER_DAY'),
          429: {
            ...described(ErrorBody, "The re-queued images would pass this API key's QUOTA_IMAGES_PER_DAY"),
            headers: { 'retry-after': { type: 'integer', description: 'Seconds until it may be allowed' } }
          },
          503: unavailable
        }
      }
    },
    async (request, reply) => {
      const id = request.params.request_id
      const doc = await visible(request, id)
      const plan = retryPlan(doc, await app.requests.jobs.unitImagesOf(id))
      if ('refusal' in plan) return reply.conflict(plan.refusal)
      // Re-queued images are downloaded and compressed again: they take the daily image budget as an upload does.
      const budget = await app.quotas.take(request.tenant, 'images_per_day', plan.images, config.QUOTA_IMAGES_PER_DAY)
      if (!budget.ok) {
        app.metrics.quotaRejections.inc({ quota: 'images_per_day' })
        const what = `retrying ${plan.images} images`
        if (budget.never)
          return reply.payloadTooLarge(
            `${what} is more than the whole budget of ${budget.limit} images per day (QUOTA_IMAGES_PER_DAY)`
          )
        return reply
          .header('retry-after', String(budget.retryAfterS))
          .tooManyRequests(
            `${what} would pass the budget of ${budget.limit} images per day (QUOTA_IMAGES_PER_DAY); retry in ${budget.retryAfterS} s`
          )
      }
      if (!(await app.requests.management.retry(doc, plan, app.managementPauses))) {
        await app.quotas.giveBack(request.tenant, 'images_per_day', plan.images, budget.windowStart)
        return reply.conflict(`request ${id} changed while it was being retried (retried or cancelled meanwhile)`)
      }
      request.log.info({ request_id: id, images: plan.images, units: plan.units.length }, 'request retried')
      return reply.code(202).send(await summary(id))
    }
  )
}

export default requestRoutes
