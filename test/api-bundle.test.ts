/**
 * The API/worker boundary as a fact of the build, not a habit: the API's production bundle (built as the
 * Dockerfile builds it) takes in nothing of the media work: no sharp, no got, no @imgproc/media, no metric and
 * no WebAssembly. The worker's bundle, built the same way, holds all of them, which shows the check sees what
 * it looks for. (test/operations.test.ts checks the API's deployed node_modules.)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { bundle } from '../scripts/bundle/build.mjs'

type Metafile = NonNullable<Awaited<ReturnType<typeof bundle>>['metafile']>

/** The package a bundled file comes from: `name` or `@scope/name` after its last node_modules/. */
function packageOf(file: string): string | undefined {
  const at = file.lastIndexOf('node_modules/')
  if (at < 0) return undefined
  const [first, second] = file.slice(at + 'node_modules/'.length).split('/')
  return first?.startsWith('@') ? `${first}/${second}` : first
}

/** What part of the media work a bundle input or external import is, or null for none. */
function mediaPart(file: string): string | null {
  const pkg = packageOf(file)
  if (pkg === 'sharp' || pkg?.startsWith('@img/') || file === 'sharp') return 'sharp'
  if (pkg === 'got' || file === 'got') return 'got'
  if (/(?:^|\/)packages\/media\//.test(file) || file.startsWith('@imgproc/media')) return '@imgproc/media'
  if (/\.wasm$/.test(file) || pkg === 'assemblyscript') return 'wasm'
  if (/ssimulacra2/.test(file)) return '@imgproc/ssimulacra2'
  return null
}

/** Every input of the bundle and every module it leaves to node_modules (sharp is external), by media part. */
function mediaParts(meta: Metafile): Record<string, string[]> {
  const externals = Object.values(meta.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path))
  const parts: Record<string, string[]> = {}
  for (const file of [...Object.keys(meta.inputs), ...externals]) {
    const part = mediaPart(file)
    if (part) parts[part] = [...(parts[part] ?? []), file]
  }
  return parts
}

async function metafileOf(app: string): Promise<Metafile> {
  const outdir = await mkdtemp(path.join(tmpdir(), `bundle-${app}-`))
  try {
    const { metafile } = await bundle(app, { outdir, metafile: true })
    return metafile!
  } finally {
    await rm(outdir, { recursive: true, force: true })
  }
}

t.test('the API bundle holds no sharp, got, @imgproc/media, metric or WebAssembly', async (t) => {
  const meta = await metafileOf('api')
  const inputs = Object.keys(meta.inputs)
  t.ok(
    inputs.some((i) => /packages\/core\/src\//.test(i)) && inputs.some((i) => /packages\/storage\/src\//.test(i)),
    'it is built from core and storage'
  )
  t.ok(
    inputs.some((i) => packageOf(i) === 'fastify'),
    'and from its own dependencies'
  )
  t.same(mediaParts(meta), {}, 'nothing of the media work')
})

t.test('the worker bundle, built the same way, holds each of them', async (t) => {
  const parts = mediaParts(await metafileOf('worker'))
  t.same(Object.keys(parts).sort(), ['@imgproc/media', '@imgproc/ssimulacra2', 'got', 'sharp', 'wasm'])
})
