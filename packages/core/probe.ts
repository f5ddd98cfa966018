import { compressImage } from './src/compress/sharp.ts'
import { readFileSync, readdirSync } from 'node:fs'
import sharp from 'sharp'
const dir = '../../../shared/corpus/images/'
const opts = { quality: 50, format: 'original' as const, mozjpeg: false }
for (const f of readdirSync(dir)) {
  const t = performance.now()
  try {
    const r = await compressImage(readFileSync(dir + f), opts, 100_000_000)
    const m = await sharp(r.data).metadata()
    console.log(f.padEnd(45), r.stats.bytes_in, '->', r.stats.bytes_out, r.extension, `${r.stats.width_out}x${r.stats.height_out}`, m.space, m.depth, 'alpha', m.hasAlpha, 'pages', m.pages, 'orient', m.orientation, Math.round(performance.now() - t), 'ms', 'rss', Math.round(process.memoryUsage().rss / 1e6))
  } catch (e: any) { console.log(f.padEnd(45), 'ERR', e.message, Math.round(performance.now() - t), 'ms', 'rss', Math.round(process.memoryUsage().rss / 1e6)) }
}
