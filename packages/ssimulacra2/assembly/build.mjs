// node packages/ssimulacra2/assembly/build.mjs: compiles the SSIMULACRA2 kernels (AssemblyScript, beside this file)
// to packages/ssimulacra2/dist/ssimulacra2.wasm, where src/wasm-binary.ts reads them. Build output,
// never committed: `pnpm install` runs this (this package's `prepare`), so do scripts/test.sh and the bundle build.

import { mkdirSync, renameSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import asc from 'assemblyscript/asc'

const here = path.dirname(fileURLToPath(import.meta.url))
export const SOURCE = path.join(here, 'ssimulacra2.ts')
export const WASM = path.resolve(here, '../dist/ssimulacra2.wasm')

export async function buildWasm() {
  mkdirSync(path.dirname(WASM), { recursive: true })
  // Written beside and renamed into place: a process reading the kernels while a build runs sees the old file
  // or the new one, never half of one (tests build bundles while others score).
  const written = path.join(path.dirname(WASM), `ssimulacra2.${process.pid}.tmp.wasm`)
  // stub runtime and imported memory: the kernels allocate nothing; the caller owns (and sizes) the memory.
  const { error, stderr } = await asc.main([
    SOURCE,
    '--outFile',
    written,
    '-O3',
    '--noAssert',
    '--runtime',
    'stub',
    '--enable',
    'simd',
    '--importMemory',
    '--noExportMemory'
  ])
  if (error) throw new Error(`asc failed to compile ${SOURCE}:\n${stderr.toString()}`)
  renameSync(written, WASM)
  return WASM
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`built ${path.relative(process.cwd(), await buildWasm())}`)
}
