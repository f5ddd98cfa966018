/**
 * The OpenAPI document a real API serves, with and without API keys: `redocly lint` (redocly.yaml: the recommended
 * rules) finds no error and only the warnings kept on purpose (docs/clients.md says why), and the document says
 * what each operation answers: named schemas, the error body everywhere, CSV as text, images as binary.
 */
import { execFile } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { ROOT } from './support/paths.ts'
import { startService } from './support/service.ts'

const execFileAsync = promisify(execFile)

/** Warnings of the recommended rules that stay, by rule and place (the reasons are in docs/clients.md). */
const KEPT_WARNINGS = [
  'info-license #/info',
  'operation-4xx-response #/paths/~1healthz/get/responses',
  'operation-4xx-response #/paths/~1readyz/get/responses'
]

const OPERATIONS = {
  'post /upload': 'uploadCsv',
  'get /status/{request_id}': 'getStatus',
  'get /requests': 'listRequests',
  'post /requests/{request_id}/cancel': 'cancelRequest',
  'post /requests/{request_id}/retry': 'retryRequest',
  'get /requests/{request_id}/output.csv': 'getOutputCsv',
  'get /requests/{request_id}/{round}/output.csv': 'getRetriedOutputCsv',
  'get /requests/{request_id}/manifest.json': 'getManifest',
  'get /images/{request_id}/{file}': 'getOutputImage',
  'get /images/o/{scope}/{file}': 'getSharedOutputImage',
  'post /webhook': 'receiveWebhook',
  'get /healthz': 'getHealth',
  'get /readyz': 'getReadiness'
}
const GUARDED = ['uploadCsv', 'getStatus', 'getManifest', 'listRequests', 'cancelRequest', 'retryRequest']
const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/avif']

type Media = Record<string, { schema: Record<string, unknown> }>
type Operation = {
  operationId: string
  tags: string[]
  security?: unknown[]
  responses: Record<string, { content?: Media }>
  callbacks?: Record<string, Record<string, { post: { requestBody: { content: Media } } }>>
}
type Document = {
  tags: Array<{ name: string }>
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> }
}

async function lint(url: string) {
  const { stdout } = await execFileAsync(
    path.join(ROOT, 'node_modules/.bin/redocly'),
    ['lint', '--config', path.join(ROOT, 'redocly.yaml'), '--format', 'json', url],
    { cwd: ROOT, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } }
  ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' })) // it exits 1 on errors: they are read below
  return JSON.parse(stdout) as {
    totals: { errors: number; warnings: number }
    problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>
  }
}

for (const keys of ['', 'k-one,k-two']) {
  t.test(`the document of a server ${keys ? 'with' : 'without'} API keys`, async (t) => {
    const service = await startService({ workers: 0, env: { API_KEYS: keys } })
    t.teardown(() => service.stop())
    const url = `${service.apiUrl}/openapi.json`

    const result = await lint(url)
    t.same(
      result.problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message}`),
      [],
      'redocly lint: no errors'
    )
    t.same(
      result.problems.filter((p) => p.severity === 'warn').map((p) => `${p.ruleId} ${p.location[0]?.pointer}`),
      KEPT_WARNINGS,
      'redocly lint: only the warnings kept'
    )

    const doc = (await (await fetch(url)).json()) as Document
    const tags = doc.tags.map((tag) => tag.name)
    const operations = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.entries(ops).map(([method, op]) => [`${method} ${p}`, op] as const)
    )
    t.same(Object.fromEntries(operations.map(([key, op]) => [key, op.operationId])), OPERATIONS)
    for (const [key, op] of operations) {
      t.ok(op.tags.length === 1 && tags.includes(op.tags[0]!), `${key}: one declared tag`)
      const expected = keys && GUARDED.includes(op.operationId) ? [{ bearer: [] }] : []
      t.same(op.security, expected, `${key}: security ${JSON.stringify(expected)}`)
      for (const [code, response] of Object.entries(op.responses)) {
        if (Number(code) < 400 || op.operationId === 'getReadiness') continue
        if (code === '416') {
          t.equal(response.content, undefined, `${key} 416: no body`)
          continue
        }
        t.same(
          response.content,
          { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          `${key} ${code}`
        )
      }
    }
    t.equal('securitySchemes' in doc.components, Boolean(keys), 'the bearer scheme exactly when keys are set')

    const files = (p: string) => doc.paths[p]!.get!.responses
    for (const code of ['200', '206']) {
      t.same(files('/requests/{request_id}/output.csv')[code]!.content, { 'text/csv': { schema: { type: 'string' } } })
      const image = files('/images/{request_id}/{file}')[code]!.content!
      t.same(Object.keys(image), IMAGE_TYPES, `image ${code}: every output media type`)
      for (const media of Object.values(image)) t.same(media.schema, { type: 'string', format: 'binary' })
    }
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` })
    const upload = doc.paths['/upload']!.post!
    t.same(upload.responses['202']!.content!['application/json']!.schema, ref('UploadAccepted'))
    t.same(
      doc.paths['/status/{request_id}']!.get!.responses['200']!.content!['application/json']!.schema,
      ref('StatusView')
    )
    t.same(
      doc.paths['/requests/{request_id}/manifest.json']!.get!.responses['200']!.content!['application/json']!.schema,
      ref('Manifest')
    )
    const form = (upload as unknown as { requestBody: { content: Media } }).requestBody.content['multipart/form-data']!
    t.same(
      (form.schema as { properties: Record<string, { items: unknown }> }).properties.outputs!.items,
      { anyOf: [ref('OutputPreset'), ref('OutputSpec')] },
      'outputs: presets and specs, by name'
    )
    const [callback] = Object.values(upload.callbacks?.requestCompleted ?? {})
    t.same(callback?.post.requestBody.content['application/json']?.schema, ref('WebhookEvent'), 'the webhook event')
    t.match(doc.components.schemas, { StatusView: {}, UploadAccepted: {}, WebhookEvent: {}, Error: {} })
  })
}
