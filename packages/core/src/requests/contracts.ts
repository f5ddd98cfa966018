import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { ComplianceView } from '../output-sets/compliance.ts'
import { ResolvedOutput } from '../output-sets/spec.ts'
import { QualitySetting } from '../quality/setting.ts'

/**
 * The wire contracts: TypeBox shapes the API validates, serialises and documents (OpenAPI), and the webhook event.
 * Types are derived from them, never written twice. What the store keeps is in records.ts.
 */

export const RequestStatus = Type.Union([
  Type.Literal('Pending'),
  Type.Literal('Processing'),
  Type.Literal('Completed'),
  Type.Literal('Failed'),
  Type.Literal('Cancelled')
])
export type RequestStatus = Static<typeof RequestStatus>

export const ImageStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')])
export type ImageStatus = Static<typeof ImageStatus>

export const OutputFormat = Type.Union(
  [Type.Literal('original'), Type.Literal('jpeg'), Type.Literal('webp'), Type.Literal('avif'), Type.Literal('png')],
  { default: 'original', description: 'Output format; original keeps the input format.' }
)
export type OutputFormat = Static<typeof OutputFormat>

export const ProcessingOptions = Type.Object({
  quality: QualitySetting,
  format: OutputFormat,
  max_width: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 16384, description: 'Fit inside this width; never enlarges.' })
  ),
  max_height: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 16384, description: 'Fit inside this height; never enlarges.' })
  ),
  mozjpeg: Type.Boolean({
    default: false,
    description: 'Use mozjpeg encoder settings for JPEG output (smaller, slower).'
  })
})
export type ProcessingOptions = Static<typeof ProcessingOptions>
/** What an upload that sets no option gets: the schema's defaults. */
export const DEFAULT_OPTIONS = Value.Default(ProcessingOptions, {}) as ProcessingOptions

export const Counts = Type.Object({
  total: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  pending: Type.Integer(),
  reused: Type.Optional(
    Type.Integer({ description: 'Succeeded images whose stored outputs were reused rather than made again.' })
  )
})
export type Counts = Static<typeof Counts>

/** What one compressed image produced; stored on the request and echoed by status. */
export const ImageStats = Type.Object({
  bytes_in: Type.Integer(),
  bytes_out: Type.Integer(),
  kept_original: Type.Boolean({ description: 'The compressed result was not smaller, so the input bytes were kept.' }),
  width_in: Type.Integer(),
  height_in: Type.Integer(),
  width_out: Type.Integer(),
  height_out: Type.Integer(),
  format_in: Type.String(),
  format_out: Type.String(),
  download_ms: Type.Integer(),
  compress_ms: Type.Integer(),
  score: Type.Optional(
    Type.Number({
      description: 'SSIMULACRA2 of the delivered output against the oriented sRGB input (quality=auto only).'
    })
  ),
  quality: Type.Optional(Type.Integer({ description: 'Encoder quality used (the chosen one with quality=auto).' }))
})
export type ImageStats = Static<typeof ImageStats>

export const RequestId = Type.String({ format: 'uuid', description: 'Request id returned by POST /upload.' })

export const UploadAccepted = Type.Object(
  {
    request_id: RequestId,
    status: Type.Literal('Pending'),
    status_url: Type.String(),
    total_images: Type.Integer(),
    total_products: Type.Integer()
  },
  { description: 'An accepted upload: its request id and where to follow it.' }
)

export const CsvRowError = Type.Object({
  row: Type.Integer({ description: 'CSV record number; the header is row 1.' }),
  column: Type.Union([Type.String(), Type.Null()]),
  message: Type.String()
})
export type CsvRowError = Static<typeof CsvRowError>

export const ErrorBody = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String({ description: 'What was wrong, for people.' }),
    errors: Type.Optional(Type.Array(CsvRowError, { description: "An invalid CSV's problems, row by row." }))
  },
  { description: 'The body of every error answer.' }
)

/** One output of an image of a request with `outputs` (docs/outputs.md). */
export const OutputView = Type.Object(
  {
    name: Type.String(),
    url: Type.String(),
    format: Type.String(),
    width: Type.Integer(),
    height: Type.Integer(),
    bytes: Type.Integer(),
    quality: Type.Optional(Type.Integer({ description: 'The encoder quality used.' })),
    score: Type.Optional(
      Type.Number({ description: 'SSIMULACRA2 against the source at the output size (quality=auto).' })
    ),
    compliance: Type.Optional(ComplianceView)
  },
  { description: 'One output of an image: where it is, its size and, for a marketplace, its verdict.' }
)
export type OutputView = Static<typeof OutputView>

export const ImageView = Type.Object({
  input_url: Type.String(),
  status: ImageStatus,
  output_url: Type.Union([Type.String(), Type.Null()], {
    description: "The output's URL (with `outputs`, the first output's)."
  }),
  error: Type.Union([Type.String(), Type.Null()]),
  savings_pct: Type.Union([Type.Number(), Type.Null()]),
  reused: Type.Optional(
    Type.Union([Type.Literal('not_modified'), Type.Literal('same_content')], {
      description:
        'How its outputs were reused: not_modified (the host answered 304, nothing downloaded), same_content (the bytes hashed the same, nothing compressed); absent when it was processed.'
    })
  ),
  ...Type.Partial(ImageStats).properties,
  outputs: Type.Optional(
    Type.Array(OutputView, { description: 'With `outputs`: every output of the image, in order.' })
  )
})
export type ImageView = Static<typeof ImageView>

export const ProductView = Type.Object({
  serial: Type.Integer(),
  name: Type.String(),
  images: Type.Array(ImageView)
})

/** One output's delivered count over a request, and its marketplace verdicts (zero without a profile). */
export const OutputCounts = Type.Object(
  { delivered: Type.Integer(), pass: Type.Integer(), fixed: Type.Integer(), fail: Type.Integer() },
  { description: 'How many of an output were delivered, and how many passed, were fixed or failed its profile.' }
)
export type OutputCounts = Static<typeof OutputCounts>

export const Totals = Type.Object({
  bytes_in: Type.Integer(),
  bytes_out: Type.Integer(),
  savings_pct: Type.Union([Type.Number(), Type.Null()]),
  score_mean: Type.Union([Type.Number(), Type.Null()], {
    description: 'Mean SSIMULACRA2 of delivered outputs that were scored (quality=auto); null if none.'
  }),
  score_min: Type.Union([Type.Number(), Type.Null()], { description: 'Lowest SSIMULACRA2 among them; null if none.' }),
  bytes_not_downloaded: Type.Optional(
    Type.Integer({ description: 'Source bytes not downloaded, because the image host answered 304 Not Modified.' })
  ),
  cpu_ms_saved: Type.Optional(
    Type.Integer({ description: 'Compression CPU time not spent, as recorded when the reused outputs were made.' })
  ),
  // A map as OpenAPI 3.0 writes one (additionalProperties; TypeBox's Record would be patternProperties, which 3.0
  // generators do not read).
  outputs: Type.Optional(
    Type.Unsafe<Record<string, OutputCounts>>(
      Type.Object(
        {},
        {
          additionalProperties: OutputCounts,
          description: 'With `outputs`: per output name, how many were delivered and their marketplace verdicts.'
        }
      )
    )
  )
})
export type Totals = Static<typeof Totals>

export const StatusQuery = Type.Object({
  offset: Type.Integer({ minimum: 0, default: 0, description: 'First product to include.' }),
  limit: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 100,
    description: 'How many products to include (0 for a summary only).'
  })
})

/** One page of a request's products, as status returns it. */
export const ProductPageView = Type.Object({
  offset: Type.Integer(),
  limit: Type.Integer(),
  total: Type.Integer(),
  next_offset: Type.Union([Type.Integer(), Type.Null()], {
    description:
      'Where the next page starts; pages hold fewer than `limit` products when they would pass STATUS_MAX_BYTES.'
  }),
  items: Type.Array(ProductView)
})

const DateTime = Type.String({ format: 'date-time' })
const NullableDate = Type.Union([DateTime, Type.Null()])

export const StatusView = Type.Object(
  {
    request_id: RequestId,
    status: RequestStatus,
    progress_pct: Type.Number(),
    counts: Counts,
    totals: Totals,
    options: ProcessingOptions,
    outputs: Type.Optional(
      Type.Array(ResolvedOutput, { description: "The upload's `outputs`, presets expanded; absent without it." })
    ),
    error: Type.Union([Type.String(), Type.Null()]),
    created_at: DateTime,
    updated_at: DateTime,
    started_at: NullableDate,
    completed_at: NullableDate,
    output_csv_url: Type.Union([Type.String(), Type.Null()]),
    webhook: Type.Union([
      Type.Object({
        state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
        event_id: Type.String(),
        attempts: Type.Integer(),
        last_status_code: Type.Union([Type.Integer(), Type.Null()]),
        last_error: Type.Union([Type.String(), Type.Null()])
      }),
      Type.Null()
    ]),
    products: ProductPageView
  },
  { description: "A request's progress, totals and webhook delivery, with one page of its products." }
)
export type StatusView = Static<typeof StatusView>

/** What a webhook event says happened: the request finished (Completed or Failed), or it was cancelled. */
export const WebhookEventType = Type.Union([Type.Literal('request.completed'), Type.Literal('request.cancelled')])
export type WebhookEventType = Static<typeof WebhookEventType>

export const WebhookEvent = Type.Object(
  {
    event_id: Type.String({ format: 'uuid' }),
    type: WebhookEventType,
    request_id: RequestId,
    status: RequestStatus,
    counts: Counts,
    totals: Totals,
    output_csv_url: Type.Union([Type.String(), Type.Null()]),
    completed_at: DateTime
  },
  {
    description:
      "POSTed, signed, to the upload's webhook_url once its request is Completed or Failed (request.completed, " +
      'again after each retry, with a new event_id) or Cancelled (request.cancelled).'
  }
)
export type WebhookEvent = Static<typeof WebhookEvent>
