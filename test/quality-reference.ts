/**
 * The SSIMULACRA2 reference implementation (ssimulacra2_rs from crates.io) for the quality tests. It is
 * required, never optional: scripts/test.sh installs it into .tools/bin (scripts/install-ssimulacra2.sh).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { flatRgb as flatPixels } from '@imgproc/media'
import sharp from 'sharp'
import { ROOT } from './support/paths.ts'

export const REFERENCE_BIN = process.env.SSIMULACRA2_BIN ?? path.join(ROOT, '.tools/bin/ssimulacra2_rs')

export function requireReference(): string {
  if (!existsSync(REFERENCE_BIN)) {
    throw new Error(
      `the SSIMULACRA2 reference ${REFERENCE_BIN} is missing: run bash scripts/install-ssimulacra2.sh (needs cargo)`
    )
  }
  return REFERENCE_BIN
}

/** 8-bit sRGB, flattened on white: what both the reference and the port compare (the metric has no alpha). */
export const flatRgb = (image: Buffer | sharp.Sharp) => flatPixels(Buffer.isBuffer(image) ? sharp(image) : image)

const png = (img: { data: Uint8Array; width: number; height: number }) =>
  sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer()

/** The reference's score of `distorted` against `reference` (both 8-bit RGB), fed the same pixels as PNG files. */
export async function referenceScore(
  reference: { data: Uint8Array; width: number; height: number },
  distorted: { data: Uint8Array; width: number; height: number }
): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ssim2-'))
  try {
    const a = path.join(dir, 'a.png'),
      b = path.join(dir, 'b.png')
    await writeFile(a, await png(reference))
    await writeFile(b, await png(distorted))
    const { stdout } = await promisify(execFile)(requireReference(), ['image', a, b])
    const match = /Score:\s*(-?[\d.]+)/.exec(stdout)
    if (!match) throw new Error(`unexpected ssimulacra2_rs output: ${stdout}`)
    return Number(match[1])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
