/**
 * Client compatibility: for each ecosystem, a client generated from the live /openapi.json as a customer would
 * generate it (the generator's defaults, no hand edits), driven by a small program in that language through the
 * generated calls only (test/clients/<language>), against a real API, worker, MongoDB and image server.
 * Each program uploads twice (every option at its default, then every option set), polls status to Completed,
 * downloads output.csv and one image and checks them; this test then checks what the server stored and the
 * webhook event it sent against the document.
 * Generators: scripts/install-client-generators.sh (run by `npm test`).
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { RequestDocument } from '@imgproc/core'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import t, { type Test } from 'tap'
import { ROOT } from './support/paths.ts'
import { startImageServer, startWebhookReceiver } from './support/servers.ts'
import { startService } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const execFileAsync = promisify(execFile)
const TOOLS = path.join(ROOT, '.tools')
const PYTHON_VENV = path.join(TOOLS, 'openapi-python-client')
const DRIVERS = path.join(ROOT, 'test/clients')
const API_KEY = 'client-compatibility-key'

const images = await startImageServer()
const hooks = await startWebhookReceiver()
const service = await startService({ workers: 1, env: { API_KEYS: API_KEY } })
t.teardown(async () => {
  await service.stop()
  await images.close()
  await hooks.close()
})
const documentUrl = `${service.apiUrl}/openapi.json`
const driverEnv = {
  API_URL: service.apiUrl,
  API_KEY,
  IMAGE_BASE: images.url,
  WEBHOOK_URL: `${hooks.url}/events`
}

type Run = { code: number; stdout: string; stderr: string }
async function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return execFileAsync(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000
  }).then(
    ({ stdout, stderr }): Run => ({ code: 0, stdout, stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }): Run => ({
      code: typeof err.code === 'number' ? err.code : 1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? String(err)
    })
  )
}

/** A command that must succeed: its output when it does, a test failure with its output when not. */
async function must(t: Test, what: string, command: string, args: string[], options = {}): Promise<Run> {
  const result = await run(command, args, options)
  t.equal(result.code, 0, what, { stdout: result.stdout.slice(-4000), stderr: result.stderr.slice(-4000) })
  return result
}

const scratch = (name: string) => mkdtemp(path.join(tmpdir(), `imgproc-client-${name}-`))

type Summary = {
  defaults: { request_id: string; csv_rows: number; image: string }
  options: { request_id: string; csv_rows: number; image: string }
  missing: number
}

/** The driver's own checks passed; then what the server stored and the webhook it sent are checked here. */
async function checkDriven(t: Test, result: Run) {
  if (result.code !== 0) return
  const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Summary
  t.match(summary, {
    defaults: { csv_rows: 2, image: 'jpeg' },
    options: { csv_rows: 2, image: 'webp' },
    missing: 404
  })
  const requests = service.db.collection<RequestDocument>('requests')
  const defaults = await requests.findOne({ request_id: summary.defaults.request_id })
  t.same(defaults?.options, { quality: 50, format: 'original', mozjpeg: false }, 'defaults: the server defaults')
  t.equal(defaults?.webhook_url, undefined)
  const options = await requests.findOne({ request_id: summary.options.request_id })
  t.same(
    options?.options,
    { quality: 60, format: 'webp', max_width: 300, mozjpeg: true },
    'options: every field as sent, typed'
  )
  const event = await waitFor(`the webhook of ${summary.options.request_id}`, () =>
    hooks.received.map((r) => JSON.parse(r.body)).find((e) => e.request_id === summary.options.request_id)
  )
  t.same(validateEvent(event), [], 'the webhook event is what the document says (WebhookEvent)')
  t.match(event, { type: 'request.completed', status: 'Completed', counts: { total: 3, succeeded: 3 } })
}

// The document's WebhookEvent (OpenAPI 3.0: `nullable`, refs into components), as a receiver would validate it.
const document = (await (await fetch(documentUrl)).json()) as { components: { schemas: Record<string, object> } }
const ajv = addFormats.default(new Ajv({ strict: false, allErrors: true }))
ajv.addSchema({ components: document.components }, 'openapi.json')
const webhookEvent = ajv.compile({ $ref: 'openapi.json#/components/schemas/WebhookEvent' })
function validateEvent(event: unknown) {
  return webhookEvent(event) ? [] : (webhookEvent.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)
}

t.test('Python: openapi-python-client 0.29.1 (PyPI)', async (t) => {
  const dir = await scratch('python')
  const env = { PATH: `${path.join(PYTHON_VENV, 'bin')}:${process.env.PATH}` } // its ruff post-hooks
  const generated = await must(
    t,
    'generates from the live document',
    path.join(PYTHON_VENV, 'bin/openapi-python-client'),
    ['generate', '--url', documentUrl, '--meta', 'none', '--output-path', path.join(dir, 'image_processor_client')],
    { env }
  )
  // It knows no image/* media type: it says so for the image's 200 and 206, and warns of nothing else.
  const warnings = `${generated.stdout}\n${generated.stderr}`
    .split('\n')
    .filter((line) => /^(WARNING|Cannot parse)/.test(line))
    .map((line) => line.replace(/status code <.*?> /, 'status code '))
  const image =
    'Cannot parse response for status code (Unsupported content_type image/jpeg, image/png, image/webp, ' +
    'image/gif, image/avif), response will be omitted from generated client'
  t.same(
    warnings,
    ['/images/{request_id}/{file}', '/images/o/{scope}/{file}'].flatMap((route) =>
      Array(2)
        .fill([`WARNING parsing GET ${route} within outputs.`, image])
        .flat()
    ),
    'warns only that it cannot type the image bytes'
  )
  const driven = await must(
    t,
    'the driver passes',
    path.join(PYTHON_VENV, 'bin/python'),
    [path.join(DRIVERS, 'python/drive.py')],
    { env: { ...driverEnv, PYTHONPATH: dir } }
  )
  await checkDriven(t, driven)
})

t.test('Go: oapi-codegen v2.4.1 (Go module proxy)', async (t) => {
  const dir = await scratch('go')
  for (const file of ['main.go', 'go.mod', 'go.sum'])
    await copyFile(path.join(DRIVERS, 'go', file), path.join(dir, file))
  await mkdir(path.join(dir, 'api'))
  await must(t, 'generates from the live document', path.join(TOOLS, 'bin/oapi-codegen'), [
    '-generate',
    'types,client',
    '-package',
    'api',
    '-o',
    path.join(dir, 'api/api.gen.go'),
    documentUrl
  ])
  // The modules are in the cache (the install script downloaded them): the build must not reach the network.
  const goEnv = { GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local' }
  await must(t, 'the driver builds against the generated package', 'go', ['build', '-o', 'drive', '.'], {
    cwd: dir,
    env: goEnv
  })
  const driven = await must(t, 'the driver passes', path.join(dir, 'drive'), [], { env: driverEnv })
  await checkDriven(t, driven)
})

t.test("TypeScript: the project's openapi-typescript and openapi-fetch", async (t) => {
  const dir = await scratch('typescript')
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  await copyFile(path.join(DRIVERS, 'typescript/drive.ts'), path.join(dir, 'drive.ts'))
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
  await must(t, 'generates from the live document', process.execPath, [
    path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'),
    documentUrl,
    '-o',
    path.join(dir, 'api.d.ts')
  ])
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: ['node']
      },
      files: ['drive.ts']
    })
  )
  await must(t, 'the driver type-checks against the generated types', process.execPath, [
    path.join(ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    dir
  ])
  const driven = await must(t, 'the driver passes', process.execPath, ['--import', 'tsx', path.join(dir, 'drive.ts')], {
    cwd: dir,
    env: driverEnv
  })
  await checkDriven(t, driven)
})
