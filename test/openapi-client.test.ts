import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import createClient from 'openapi-fetch'
import t from 'tap'
import { csvOf, ROOT, startImageServer, startService, waitFor } from './helpers.ts'

const run = promisify(execFile)
const images = await startImageServer()
const service = await startService({ workers: 1 })
t.teardown(async () => {
  await service.stop()
  await images.close()
})

t.test(
  'a client generated from /openapi.json type-checks against the document and drives the real service',
  async (t) => {
    // 1. Generate types from the running service's document (openapi-typescript), then type-check a client of them.
    const outDir = path.join(ROOT, 'test-output/openapi-client')
    await mkdir(outDir, { recursive: true })
    await writeFile(path.join(outDir, 'openapi.json'), await (await fetch(`${service.apiUrl}/openapi.json`)).text())
    await run(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'),
        path.join(outDir, 'openapi.json'),
        '-o',
        path.join(outDir, 'api.d.ts')
      ],
      { cwd: ROOT }
    )
    await writeFile(
      path.join(outDir, 'usage.ts'),
      `import createClient from 'openapi-fetch'
import type { paths } from './api.d.ts'
const client = createClient<paths>({ baseUrl: 'http://x' })
export async function use(id: string) {
  const status = await client.GET('/status/{request_id}', { params: { path: { request_id: id }, query: { offset: 0, limit: 10 } } })
  if (status.data) {
    const done: number = status.data.counts.succeeded
    const url: string | null = status.data.output_csv_url
    const first: string | undefined = status.data.products.items[0]?.images[0]?.input_url
    return { done, url, first }
  }
  const missing: string | undefined = status.error?.message
  return missing
}
`
    )
    await writeFile(
      path.join(outDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          types: []
        },
        files: ['usage.ts']
      })
    )
    const tsc = await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', outDir], {
      cwd: ROOT
    }).then(
      () => 'ok',
      (e) => String(e.stdout)
    )
    t.equal(tsc, 'ok', 'the generated types fit how a client uses the API')

    // 2. The same library at run time, end to end: upload, status, download.
    // biome-ignore lint/suspicious/noExplicitAny: the paths type is generated at run time into a temporary folder
    const client = createClient<any>({ baseUrl: service.apiUrl })
    const form = new FormData()
    form.append('file', new Blob([csvOf([[1, 'A', [`${images.url}/img/rocket.jpg`]]])], { type: 'text/csv' }), 'a.csv')
    form.append('quality', '70')
    const uploaded = await client.POST('/upload', { body: form, bodySerializer: (b: FormData) => b })
    t.equal(uploaded.response.status, 202)
    const id = uploaded.data.request_id
    const status = await waitFor('Completed', async () => {
      const s = await client.GET('/status/{request_id}', { params: { path: { request_id: id } } })
      return s.data?.status === 'Completed' ? s.data : null
    })
    t.match(status, { counts: { total: 1, succeeded: 1 }, options: { quality: 70 } })
    const csv = await client.GET('/requests/{request_id}/output.csv', {
      params: { path: { request_id: id } },
      parseAs: 'text'
    })
    t.match(csv.data, /Output Image Urls/)
    const unknown = await client.GET('/status/{request_id}', {
      params: { path: { request_id: '00000000-0000-4000-8000-000000000000' } }
    })
    t.equal(unknown.response.status, 404)
    t.match(unknown.error, { statusCode: 404, message: /no request/ })
  }
)
