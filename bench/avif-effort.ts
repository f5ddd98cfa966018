/**
 * pnpm bench:avif: AVIF effort against CPU and bytes, at equal quality. Six corpus images at web's middle width
 * (960 px); per effort, the lowest quality of a 5-step grid (35–70) whose SSIMULACRA2 reaches 70 (web's floor),
 * its bytes and the CPU of that one encode (process.cpuUsage: libvips' threads included). Ratios against effort 2,
 * the setting every AVIF output uses (compress/encoder.ts); docs/outputs.md keeps the table.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { flatRgb } from '@imgproc/media'
import { scorerFor } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import { CORPUS } from '../test/support/paths.ts'

const NAMES = [
  'flowers.jpeg',
  'rocket.jpg',
  'Landscape_1.jpg',
  'chelsea.png',
  '2569067123_aca715a2ee_o.jpg',
  'astronaut.png'
]
const EFFORTS = [0, 1, 2, 3, 4, 6]
const QUALITIES = [35, 40, 45, 50, 55, 60, 65, 70]
const FLOOR = 70
const WIDTH = 960

const found: Record<number, { bytes: number; cpuMs: number }[]> = Object.fromEntries(EFFORTS.map((e) => [e, []]))
for (const name of NAMES) {
  const base = await sharp(readFileSync(path.join(CORPUS, name)))
    .rotate()
    .resize(WIDTH, WIDTH, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  const pixels = () => sharp(base.data, { raw: { width: base.info.width, height: base.info.height, channels: 3 } })
  const score = scorerFor(await flatRgb(pixels()))
  for (const effort of EFFORTS) {
    for (const quality of QUALITIES) {
      const start = process.cpuUsage()
      const out = await pixels().avif({ quality, effort }).toBuffer()
      const used = process.cpuUsage(start)
      if (score(await flatRgb(sharp(out))) >= FLOOR || quality === QUALITIES.at(-1)) {
        found[effort]!.push({ bytes: out.length, cpuMs: (used.user + used.system) / 1000 })
        break
      }
    }
  }
  score.release()
  console.error(`${name}: ${EFFORTS.map((e) => `effort ${e} ${found[e]!.at(-1)!.bytes} B`).join(', ')}`)
}
const total = (effort: number, key: 'bytes' | 'cpuMs') => found[effort]!.reduce((s, r) => s + r[key], 0)
console.log('| effort | bytes (6 images) | vs effort 2 | CPU (6 encodes) | vs effort 2 |\n|---|---|---|---|---|')
for (const e of EFFORTS)
  console.log(
    `| ${e} | ${(total(e, 'bytes') / 1024).toFixed(0)} KB | ${(total(e, 'bytes') / total(2, 'bytes')).toFixed(3)}× | ${total(e, 'cpuMs').toFixed(0)} ms | ${(total(e, 'cpuMs') / total(2, 'cpuMs')).toFixed(2)}× |`
  )
