/**
 * The compiled kernels (packages/ssimulacra2/dist/ssimulacra2.wasm, built from packages/ssimulacra2/assembly
 * by `pnpm install`). The production bundle replaces this module with the bytes themselves
 * (scripts/bundle/build.mjs), so only source and tsc runs read the file.
 */
import { readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// One level down from the package in both src and dist.
const WASM = fileURLToPath(new URL('../dist/ssimulacra2.wasm', import.meta.url))
const SOURCE = fileURLToPath(new URL('../assembly/ssimulacra2.ts', import.meta.url))
const REBUILD = 'build it with `pnpm --filter @imgproc/ssimulacra2 build:wasm` (pnpm install does)'

export function wasmBinary(): Uint8Array<ArrayBuffer> {
  const built = statSync(WASM, { throwIfNoEntry: false })
  if (!built) throw new Error(`SSIMULACRA2: ${WASM} is missing: ${REBUILD}`)
  // Beside its source (a checkout, not a deployed copy), an older build means an edit not compiled yet.
  const source = statSync(SOURCE, { throwIfNoEntry: false })
  if (source && source.mtimeMs > built.mtimeMs)
    throw new Error(`SSIMULACRA2: ${WASM} is older than ${SOURCE}: ${REBUILD}`)
  return readFileSync(WASM)
}
