import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger'
import {
  AutoQuality,
  ComplianceView,
  type Config,
  Counts,
  CsvRowError,
  ErrorBody,
  ImageStatus,
  ImageView,
  ListedFormat,
  Manifest,
  ManifestImage,
  ManifestProduct,
  MarketplaceProfile,
  OutputCounts,
  OutputFit,
  OutputFormat,
  OutputPreset,
  OutputSpec,
  OutputView,
  ProcessingOptions,
  ProductPageView,
  ProductView,
  QualitySetting,
  RequestList,
  RequestStatus,
  RequestSummary,
  ResolvedOutput,
  SpecFormat,
  StatusView,
  Totals,
  UploadAccepted,
  WebhookEvent,
  WebhookEventType
} from '@imgproc/core'
import type { TSchema } from 'typebox'
import { described, documentRoute, documentSchema, type RouteSchema } from './openapi-schema.ts'

/**
 * Schemas the document names under components/schemas, so that every generator makes one named type of each
 * (StatusView, Error, …) instead of one anonymous type per operation and status code. Routes keep declaring the
 * TypeBox schemas themselves (they validate and serialize); only the document refers to these names.
 */
export const COMPONENTS: Record<string, TSchema> = {
  UploadAccepted,
  StatusView,
  RequestSummary,
  RequestList,
  WebhookEvent,
  Error: ErrorBody,
  CsvRowError,
  RequestStatus,
  WebhookEventType,
  ImageStatus,
  Counts,
  Totals,
  ProcessingOptions,
  OutputFormat,
  QualitySetting,
  AutoQuality,
  ProductPage: ProductPageView,
  ProductView,
  ImageView,
  OutputPreset,
  OutputSpec,
  OutputFit,
  SpecFormat,
  ListedFormat,
  MarketplaceProfile,
  ResolvedOutput,
  OutputView,
  Compliance: ComplianceView,
  OutputCounts,
  Manifest,
  ManifestProduct,
  ManifestImage
}

const REF = '#/components/schemas/'
const header = (description: string) => ({ type: 'string', description })

/** The error answers most operations share. */
export const unauthorized = {
  ...described(ErrorBody, 'An API key is required (the server has API_KEYS) and none valid was given'),
  headers: { 'www-authenticate': header('Bearer') }
}
export const unavailable = described(ErrorBody, 'The database or storage is unavailable; retry shortly')

/**
 * The signed event POSTed to an upload's webhook_url once its request is Completed or Failed (OpenAPI 3.0 says this
 * with a callback; 3.1's top-level webhooks would leave out generators that read only 3.0, such as oapi-codegen).
 */
export const WEBHOOK_CALLBACK = {
  '{$request.body#/webhook_url}': {
    post: {
      operationId: 'requestCompleted',
      summary:
        'The request finished (Completed or Failed: request.completed, again after each retry with a new ' +
        'event_id) or was cancelled (request.cancelled): its counts, totals and output CSV URL',
      description:
        'Verify Webhook-Signature (`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under WEBHOOK_SECRET>`) ' +
        'before trusting the body; Webhook-Id repeats event_id, the same for every attempt of one event.',
      security: [], // the body is signed instead: see Webhook-Signature
      parameters: [
        { in: 'header', name: 'webhook-signature', required: true, schema: header('t=…,v1=…') },
        { in: 'header', name: 'webhook-id', required: true, schema: header('The event_id') }
      ],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { $ref: `${REF}WebhookEvent` } } }
      },
      responses: {
        '2XX': { description: 'Delivered: the event is not sent again' },
        '4XX': {
          description:
            'Refused: sent again with exponential backoff, up to WEBHOOK_MAX_ATTEMPTS attempts (so is any other ' +
            'answer, or none within the timeout)'
        }
      }
    }
  }
}

/** Every operation is in one of these; generators group their calls by tag. */
const TAGS = [
  {
    name: 'requests',
    description: 'Upload a CSV of products and image URLs, follow its progress; list, cancel and retry requests.'
  },
  { name: 'outputs', description: 'The output CSV and the compressed images of a request.' },
  { name: 'webhooks', description: 'A receiver of the signed request.completed event (for testing a setup).' },
  { name: 'health', description: 'Liveness and readiness probes.' }
]

/** @fastify/swagger's options: the document's header, its named schemas, and every route through documentRoute. */
export function swaggerOptions(config: Pick<Config, 'PUBLIC_BASE_URL' | 'API_KEYS'>): FastifyDynamicSwaggerOptions {
  // Without API_KEYS nothing asks for a key: the document then has no scheme to offer (see apiKeySecurity).
  const securitySchemes =
    config.API_KEYS.length > 0
      ? { bearer: { type: 'http' as const, scheme: 'bearer', description: 'One of the keys in API_KEYS' } }
      : undefined
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Image processor',
        version: '0.1.0',
        description:
          'Bulk product-image compression: upload a CSV of image URLs, poll status, fetch the output CSV. ' +
          'When the server has API keys (API_KEYS), upload and status need `Authorization: Bearer <key>`.'
      },
      servers: [{ url: config.PUBLIC_BASE_URL }],
      tags: TAGS,
      components: {
        ...(securitySchemes ? { securitySchemes } : {}),
        schemas: Object.fromEntries(
          Object.entries(COMPONENTS).map(([name, schema]) => [name, documentSchema(schema, COMPONENTS, name)])
        ) as Record<string, never>
      }
    },
    transform: ({ schema, url }) => ({
      schema: documentRoute(schema as RouteSchema, COMPONENTS) as typeof schema,
      url
    }),
    // @fastify/swagger keeps only a callback's body and responses; the webhook's is added here whole.
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject
      const paths = document.openapiObject.paths as Record<string, Record<string, Record<string, unknown>>> | undefined
      const upload = paths?.['/upload']?.post
      if (upload) upload.callbacks = { requestCompleted: WEBHOOK_CALLBACK }
      return document.openapiObject
    }
  }
}

export { described }
