/**
 * Our TypeScript SSIMULACRA2 against the reference implementation (ssimulacra2_rs), on every corpus image that
 * decodes, at several JPEG qualities and one WebP: both are fed the same 8-bit pixels, so this compares the
 * metric, not decoders. Inputs are fitted inside 1024 px first, as a max_width request would be, to bound CPU.
 */

import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { ssimulacra2 } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import t from 'tap'
import { flatRgb, referenceScore, requireReference } from './quality-reference.ts'
import { CORPUS } from './support/paths.ts'

const TOLERANCE = 1.0
const DISTORTIONS = [
  ['jpeg', 20],
  ['jpeg', 50],
  ['jpeg', 80],
  ['webp', 60]
] as const
// Files that do not decode at all: there is no pixel to score (the pipeline fails them with a reason).
const UNDECODABLE = ['corrupt-header.jpg', 'truncated.jpg']

t.test('the reference binary is installed', async (t) => {
  t.ok(requireReference(), 'ssimulacra2_rs is present')
})

const files = readdirSync(CORPUS)
  .filter((f) => !f.endsWith('.md'))
  .sort()
t.ok(files.length >= 20, `corpus has ${files.length} files`)
for (const name of files) {
  if (UNDECODABLE.includes(name)) {
    t.test(`${name} does not decode`, async (t) => {
      await t.rejects(
        sharp(readFileSync(path.join(CORPUS, name)), { failOn: 'error' })
          .raw()
          .toBuffer(),
        `${name} is not decodable`
      )
    })
    continue
  }
  t.test(`${name}: port agrees with ssimulacra2_rs within ±${TOLERANCE}`, async (t) => {
    // The giant input only decodes without the pixel limit; shrink-on-load keeps that cheap.
    const source = sharp(readFileSync(path.join(CORPUS, name)), { limitInputPixels: false })
      .rotate()
      .resize(1024, 1024, { fit: 'inside', withoutEnlargement: true })
    const reference = await flatRgb(source)
    const lossless = sharp(reference.data, { raw: { width: reference.width, height: reference.height, channels: 3 } })
    for (const [format, quality] of DISTORTIONS) {
      const encoded = await lossless.clone()[format]({ quality }).toBuffer()
      const distorted = await flatRgb(encoded)
      const ours = ssimulacra2(reference, distorted)
      const theirs = await referenceScore(reference, distorted)
      t.ok(
        Math.abs(ours - theirs) <= TOLERANCE,
        `${format} q${quality}: ours ${ours.toFixed(3)}, reference ${theirs.toFixed(3)} (Δ ${(ours - theirs).toFixed(3)})`
      )
    }
    t.equal(ssimulacra2(reference, reference), 100, 'identical images score 100')
  })
}
