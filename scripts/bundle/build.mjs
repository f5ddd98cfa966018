// node scripts/bundle/build.mjs APP...: the production build of apps/APP, one minified ES module (plus lazily loaded
// chunks, e.g. the AWS SDK) in apps/APP/dist/bundle/, built from TypeScript source with the workspace's code inlined.
//
// Why a bundle and not tsc's one file per module: V8 keeps every loaded module's source text and per-module
// bookkeeping for the life of the process; one tree-shaken, minified file saves ~8 MB of heap per process at
// idle (measured by `pnpm bench`; see docs/benchmark.md). tsc still type-checks (`pnpm typecheck`).

import { rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { buildWasm } from '../../packages/ssimulacra2/assembly/build.mjs'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, '../..')

// The metric's WebAssembly kernels, compiled from source here (the Dockerfiles install before they copy the
// source, so install time cannot) and embedded in the bundle in place of the module that reads the file. Only a
// bundle that reaches the metric (the worker's) compiles them.
let wasm
function kernels() {
  wasm ??= buildWasm()
  return wasm
}
const embedWasm = {
  name: 'embed-ssimulacra2-wasm',
  setup(b) {
    b.onLoad({ filter: /[\\/]ssimulacra2[\\/]src[\\/]wasm-binary\.ts$/ }, async () => ({
      contents: `import bytes from ${JSON.stringify(await kernels())}; export function wasmBinary() { return bytes }`,
      loader: 'js',
      resolveDir: here
    }))
  }
}

// Loaded from node_modules at run time: native code (sharp), packages that read files beside their own source
// (swagger-ui's assets), and the MongoDB driver's optional extras, which it requires inside try/catch.
const external = [
  'sharp',
  '@fastify/swagger-ui',
  'kerberos',
  'snappy',
  '@mongodb-js/zstd',
  'mongodb-client-encryption',
  'gcp-metadata',
  'socks',
  'aws4',
  '@aws-sdk/credential-providers'
]

/**
 * Bundles apps/APP into `outdir` (its dist/bundle by default) and returns esbuild's result; with `metafile`, it
 * lists every input that went in (test/api-bundle.test.ts reads it to prove what the API leaves out).
 */
export async function bundle(app, { outdir = path.join(root, 'apps', app, 'dist/bundle'), metafile = false } = {}) {
  rmSync(outdir, { recursive: true, force: true }) // chunk names change with their content: no stale ones shipped
  return build({
    entryPoints: [path.join(root, 'apps', app, 'src/main.ts')],
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['imgproc-source'],
    minify: true,
    // Names are minified too (keepNames costs ~5 MB per process): logged errors still say what they are, because
    // the driver's errors and ours set `name`, which heads every stack; source maps give the rest.
    sourcemap: 'linked',
    external,
    alias: { 'whatwg-url': path.join(here, 'whatwg-url.cjs') },
    // CommonJS dependencies call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __imgprocRequire } from 'node:module'; const require = __imgprocRequire(import.meta.url);"
    },
    loader: { '.wasm': 'binary' },
    plugins: [embedWasm],
    metafile,
    logLevel: 'warning'
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const app of process.argv.slice(2)) await bundle(app)
}
