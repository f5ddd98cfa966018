import multipart, { type MultipartFile } from '@fastify/multipart'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  type Config,
  CreationAbandoned,
  type CsvRules,
  checkUrlSyntax,
  DEFAULT_OPTIONS,
  ErrorBody,
  OutputsField,
  ProcessingOptions,
  type QuotaName,
  type ResolvedOutput,
  readOutputsField,
  requestDocument,
  resolveOutputs,
  UploadAccepted,
  unitSizeFor
} from '@imgproc/core'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { apiKeySecurity, requireApiKey } from '../auth.ts'
import { decodeFormFields } from '../form-fields.ts'
import { described, unauthorized, unavailable } from '../openapi.ts'
import { uploadAdmission } from '../uploads/admission.ts'
import { type Ingested, ingestCsv } from '../uploads/ingest.ts'

const CSV_TYPES = new Set([
  'text/csv',
  'application/csv',
  'text/plain',
  'application/vnd.ms-excel',
  'application/octet-stream',
  'text/comma-separated-values'
])

const UploadBody = Type.Object(
  {
    file: Type.String({ format: 'binary', description: 'The CSV: S. No.,Product Name,Input Image Urls' }),
    webhook_url: Type.Optional(
      Type.String({
        maxLength: 2048,
        description:
          'Called with a signed request.completed event (WebhookEvent) when the batch is done: the requestCompleted callback.'
      })
    ),
    ...Type.Partial(ProcessingOptions).properties,
    outputs: Type.Optional(OutputsField),
    reuse: Type.Optional(
      Type.Boolean({
        description:
          "false: process every image afresh and store its outputs for this request alone, reusing nothing of this tenant's earlier requests (docs/reuse.md). True by default."
      })
    )
  },
  { additionalProperties: false }
)

/** `outputs` is read by core (a comma list or a JSON array), so every problem names its item and field. */
const FIELD_READERS = {
  outputs: (raw: unknown) => {
    const read = readOutputsField(raw)
    return read.ok ? { ok: true as const, value: read.items } : read
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    csvFromFilePart?: boolean
    /** The CSV as read from the file part: staged until the handler commits it. */
    ingested?: Ingested
    /** The staged request was committed: it is the client's now, not ours to remove. */
    ingestCommitted?: boolean
  }
}

function csvRules(config: Config): CsvRules {
  return {
    maxUrlLength: config.MAX_URL_LENGTH,
    allowPrivateNetworks: config.ALLOW_PRIVATE_NETWORKS,
    maxImages: config.MAX_IMAGES_PER_REQUEST,
    maxUrlsPerRow: config.MAX_URLS_PER_ROW,
    maxUrlMentions: config.MAX_URL_MENTIONS
  }
}

const uploadRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    // 16 KB a field: room for `outputs` as a JSON array of MAX_OUTPUTS specs (a cut one fails to parse: a 400).
    limits: { fileSize: config.MAX_CSV_BYTES, files: 1, fields: 10, fieldSize: 16_384 },
    // The CSV arrives as text in body.file, so the route's schema validates the whole form in one place.
    async onFile(this: FastifyRequest, part: MultipartFile) {
      if (part.fieldname !== 'file')
        throw app.httpErrors.badRequest(`unexpected file field "${part.fieldname}"; send the CSV in field "file"`)
      if (!CSV_TYPES.has(part.mimetype))
        throw app.httpErrors.unsupportedMediaType(`"file" must be a CSV, got ${part.mimetype}`)
      this.csvFromFilePart = true
      // The body's declared length bounds how many images it can list, and so the size of its work units.
      const declared = Number(this.headers['content-length'])
      try {
        this.ingested = await ingestCsv(part.file, {
          store: app.requests,
          rules: csvRules(config),
          unitSize: unitSizeFor(declared, config.WORK_UNIT_SIZE),
          keepAliveMs: config.UPLOAD_STAGING_TIMEOUT_MS / 4,
          foreground: app.foreground
        })
      } catch (err) {
        // The parser gave up on the form around the file (too many fields before it): the client's doing, not a 500.
        if ((err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE')
          throw app.httpErrors.badRequest(
            'the form could not be read whole: send at most 10 fields and one file "file"'
          )
        if (err instanceof CreationAbandoned)
          throw app.httpErrors.serviceUnavailable(
            'the request could not be stored in time (UPLOAD_STAGING_TIMEOUT_MS); retry'
          )
        throw err
      }
      if (part.file.truncated)
        throw app.httpErrors.payloadTooLarge(`the CSV is larger than ${config.MAX_CSV_BYTES} bytes (MAX_CSV_BYTES)`)
      const { ingested } = this
      if ('undecodable' in ingested) throw app.httpErrors.unsupportedMediaType(`"file" ${ingested.undecodable}`)
      // The rows are stored (staged) or refused already: the form's schema sees only that a file came.
      Object.assign(part, { value: '' })
    }
  })

  type Taken = Array<{ quota: QuotaName; amount: number; windowStart: number }>
  type Refusal = { quota: QuotaName; retryAfterS: number; never: boolean; message: string }
  /** Both per-tenant quotas, or neither: an upload refused by the second gives the first back. */
  async function takeQuotas(tenant: string, images: number): Promise<{ taken: Taken } | { refusal: Refusal }> {
    const requests = await app.quotas.take(tenant, 'requests_per_hour', 1, config.QUOTA_REQUESTS_PER_HOUR)
    if (!requests.ok)
      return {
        refusal: {
          quota: 'requests_per_hour',
          retryAfterS: requests.retryAfterS,
          never: false,
          message: `at most ${requests.limit} uploads per hour (QUOTA_REQUESTS_PER_HOUR); retry in ${requests.retryAfterS} s`
        }
      }
    const budget = await app.quotas.take(tenant, 'images_per_day', images, config.QUOTA_IMAGES_PER_DAY)
    const taken: Taken = [{ quota: 'requests_per_hour', amount: 1, windowStart: requests.windowStart }]
    if (budget.ok)
      return { taken: [...taken, { quota: 'images_per_day', amount: images, windowStart: budget.windowStart }] }
    await giveBack(tenant, taken)
    const message = budget.never
      ? `this upload's ${images} images are more than the whole budget of ${budget.limit} images per day (QUOTA_IMAGES_PER_DAY); split it`
      : `this upload's ${images} images would pass the budget of ${budget.limit} images per day (QUOTA_IMAGES_PER_DAY); retry in ${budget.retryAfterS} s`
    return { refusal: { quota: 'images_per_day', retryAfterS: budget.retryAfterS, never: budget.never, message } }
  }
  const giveBack = (tenant: string, taken: Taken) =>
    Promise.all(taken.map((q) => app.quotas.giveBack(tenant, q.quota, q.amount, q.windowStart)))

  const admission = uploadAdmission(app, { config, quotas: app.quotas, metrics: app.metrics })
  app.post(
    '/upload',
    {
      config: { bulk: true },
      onRequest: requireApiKey,
      ...admission,
      // Every answer but a 202 (a bad field, a quota, an error) removes the staged rows before it is sent.
      onSend: async (request, _reply, payload) => {
        const { ingested } = request
        if (ingested?.ok && !request.ingestCommitted) {
          request.ingested = undefined
          await ingested.creation.discard()
        }
        return payload
      },
      preValidation: async (request, reply) => {
        if (!request.isMultipart())
          return reply.unsupportedMediaType('send multipart/form-data with the CSV in field "file"')
        // A text field would be cut at the field size limit without a word: only a file part carries the CSV.
        if (request.body && !request.csvFromFilePart)
          return reply.badRequest('send the CSV as a file part (curl -F "file=@products.csv"), not as a text field')
        // The other fields are text, written as each client's language writes values: read by the form's schema.
        const fields = decodeFormFields(UploadBody, request.body as Record<string, unknown>, FIELD_READERS)
        if (!fields.ok) return reply.badRequest(fields.problem)
        request.body = fields.value as typeof request.body
      },
      schema: {
        operationId: 'uploadCsv',
        tags: ['requests'],
        summary: 'Upload a CSV of products and image URLs',
        description:
          'The CSV goes in the file part `file`; every other field is optional and takes its default when left ' +
          'out. Booleans are read as true/false in any case or 1/0, numbers as decimal strings.',
        consumes: ['multipart/form-data'],
        security: apiKeySecurity(app.config),
        body: UploadBody,
        response: {
          202: {
            ...described(UploadAccepted, 'Accepted: every image will be processed; follow status_url'),
            headers: { location: { type: 'string', description: 'The status path of the new request' } }
          },
          400: described(ErrorBody, 'A field or the CSV is invalid (every bad CSV row is listed in errors)'),
          401: unauthorized,
          408: described(
            ErrorBody,
            'The body arrived slower than UPLOAD_MIN_BYTES_PER_S over UPLOAD_RATE_WINDOW_MS, or not whole within REQUEST_TIMEOUT_MS; the connection is closed'
          ),
          413: described(ErrorBody, 'The CSV, or its image count, is larger than this server takes'),
          415: described(ErrorBody, 'Not multipart/form-data, or the file part is not a UTF-8 CSV'),
          429: {
            ...described(
              ErrorBody,
              "Over this API key's hourly uploads or daily images (refused before the body is read when nothing is left), or this key (or client address) already has MAX_UPLOADS_PER_TENANT uploads being read"
            ),
            headers: { 'retry-after': { type: 'integer', description: 'Seconds until it may be allowed' } }
          },
          503: {
            ...unavailable,
            headers: { 'retry-after': { type: 'integer', description: 'Seconds to wait when uploads are busy' } }
          }
        }
      }
    },
    async (request, reply) => {
      const { file: _, webhook_url, outputs: fields, reuse, ...options } = request.body
      const webhookProblem = webhook_url === undefined ? null : checkUrlSyntax(webhook_url, csvRules(config))
      if (webhookProblem) return reply.badRequest(`webhook_url: ${webhookProblem}`)

      const ingested = request.ingested
      if (!ingested || 'undecodable' in ingested) throw new Error('a file part passed validation but was not read')
      if (!ingested.ok) {
        const { errors, problems } = ingested.invalid
        const listed = problems > errors.length ? ` (the first ${errors.length} are listed)` : ''
        const problem = `the CSV has ${problems} problem(s)${listed}; nothing was stored`
        throw Object.assign(app.httpErrors.badRequest(problem), { errors })
      }
      const quotas = await takeQuotas(request.tenant, ingested.images)
      if ('refusal' in quotas) {
        const { refusal } = quotas
        app.metrics.quotaRejections.inc({ quota: refusal.quota })
        if (refusal.never) return reply.payloadTooLarge(refusal.message)
        return reply.header('retry-after', String(refusal.retryAfterS)).tooManyRequests(refusal.message)
      }
      const id = ingested.creation.requestId
      const made = {
        options: { ...DEFAULT_OPTIONS, ...options },
        outputs: outputsOf(fields),
        webhookUrl: webhook_url,
        now: new Date(),
        unitSize: ingested.unitSize
      }
      const doc = requestDocument(id, made, ingested)
      if (config.API_KEYS.length > 0) doc.owner = request.tenant
      if (reuse === false) doc.reuse = false
      try {
        await ingested.creation.commit(doc, app.creationPauses)
        request.ingestCommitted = true
      } catch (err) {
        await giveBack(request.tenant, quotas.taken).catch(() => undefined) // nothing was accepted
        if (err instanceof CreationAbandoned)
          return reply.serviceUnavailable('the request could not be stored in time (UPLOAD_STAGING_TIMEOUT_MS); retry')
        throw err
      }
      request.log.info({ request_id: id, images: ingested.images }, 'request accepted')
      return reply
        .code(202)
        .header('location', `/status/${id}`)
        .send({
          request_id: id,
          status: 'Pending',
          status_url: `${config.PUBLIC_BASE_URL}/status/${id}`,
          total_images: ingested.images,
          total_products: ingested.products
        })
    }
  )
}

/** The form's `outputs`, read and expanded in preValidation; absent without it. */
function outputsOf(fields: unknown[] | undefined): ResolvedOutput[] | undefined {
  if (fields === undefined) return undefined
  const read = resolveOutputs(fields)
  if (!read.ok) throw new Error(`outputs passed validation but did not resolve: ${read.problem}`)
  return read.value
}

export default uploadRoutes
