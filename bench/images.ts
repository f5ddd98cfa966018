import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'

// Photographs only: the benchmark measures ordinary catalogue images, not the corpus's hostile files.
const SOURCES = [
  '2569067123_aca715a2ee_o.jpg',
  'flowers.jpeg',
  'astronaut.png',
  'coffee.png',
  'chelsea.png',
  'rocket.jpg',
  'Landscape_1.jpg',
  'alpha-premultiply-2048x1536-paper.png'
]

/** Deterministic PRNG (mulberry32), so every run builds the same catalogue. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface CatalogueImage {
  name: string
  bytes: number
  megapixels: number
}

/**
 * N images cropped and rescaled from the corpus photos to 0.3–12 megapixels (log-uniform), 3 in 4 JPEG and
 * 1 in 4 PNG, or all JPEG (`jpegOnly`: the workload issue 31 measured). Cached on disk, so repeated runs skip the
 * generation.
 */
export async function buildCatalogue(
  corpus: string,
  dir: string,
  n: number,
  { jpegOnly = false } = {}
): Promise<CatalogueImage[]> {
  await mkdir(dir, { recursive: true })
  const sources = await Promise.all(
    SOURCES.map(async (f) => ({
      data: await readFile(path.join(corpus, f)),
      meta: await sharp(path.join(corpus, f)).metadata()
    }))
  )
  const random = prng(42)
  const out: CatalogueImage[] = []
  for (let i = 0; i < n; i++) {
    const source = sources[i % sources.length]!
    const megapixels = Math.exp(Math.log(0.3) + random() * (Math.log(12) - Math.log(0.3)))
    const cropW = Math.max(64, Math.floor(source.meta.width! * (0.6 + random() * 0.4)))
    const cropH = Math.max(64, Math.floor(source.meta.height! * (0.6 + random() * 0.4)))
    const left = Math.floor(random() * (source.meta.width! - cropW))
    const top = Math.floor(random() * (source.meta.height! - cropH))
    const scale = Math.sqrt((megapixels * 1e6) / (cropW * cropH))
    const png = !jpegOnly && i % 4 === 3
    const name = `img-${String(i).padStart(5, '0')}.${png ? 'png' : 'jpg'}`
    const file = path.join(dir, name)
    const existing = await stat(file).catch(() => null)
    if (!existing) {
      const pipeline = sharp(source.data)
        .rotate()
        .extract({ left, top, width: cropW, height: cropH })
        .resize(Math.round(cropW * scale), Math.round(cropH * scale))
      await writeFile(
        file,
        await (png ? pipeline.png({ compressionLevel: 6 }) : pipeline.jpeg({ quality: 88 })).toBuffer()
      )
    }
    out.push({ name, bytes: (await stat(file)).size, megapixels })
  }
  return out
}

/**
 * The "web" catalogue: N images of 0.2–2 megapixels (log-uniform), 3 in 5 JPEG, 1 in 5 PNG, 1 in 5 WebP, the
 * size of ordinary product photos on a shop page, where per-image overhead rather than the codec dominates.
 */
export async function buildWebCatalogue(corpus: string, dir: string, n: number): Promise<CatalogueImage[]> {
  await mkdir(dir, { recursive: true })
  const sources = await Promise.all(
    SOURCES.map(async (f) => ({
      data: await readFile(path.join(corpus, f)),
      meta: await sharp(path.join(corpus, f)).metadata()
    }))
  )
  const random = prng(7)
  const out: CatalogueImage[] = []
  for (let i = 0; i < n; i++) {
    const source = sources[i % sources.length]!
    const megapixels = Math.exp(Math.log(0.2) + random() * (Math.log(2) - Math.log(0.2)))
    const cropW = Math.max(64, Math.floor(source.meta.width! * (0.5 + random() * 0.5)))
    const cropH = Math.max(64, Math.floor(source.meta.height! * (0.5 + random() * 0.5)))
    const left = Math.floor(random() * (source.meta.width! - cropW))
    const top = Math.floor(random() * (source.meta.height! - cropH))
    const scale = Math.sqrt((megapixels * 1e6) / (cropW * cropH))
    const format = ['jpg', 'jpg', 'png', 'jpg', 'webp'][i % 5]!
    const name = `web-${String(i).padStart(5, '0')}.${format}`
    const file = path.join(dir, name)
    const existing = await stat(file).catch(() => null)
    if (!existing) {
      const pipeline = sharp(source.data)
        .rotate()
        .extract({ left, top, width: cropW, height: cropH })
        .resize(Math.round(cropW * scale), Math.round(cropH * scale))
      const encoded =
        format === 'png'
          ? pipeline.png({ compressionLevel: 6 })
          : format === 'webp'
            ? pipeline.webp({ quality: 85 })
            : pipeline.jpeg({ quality: 88 })
      await writeFile(file, await encoded.toBuffer())
    }
    out.push({
      name,
      bytes: (await stat(file)).size,
      megapixels: (Math.round(cropW * scale) * Math.round(cropH * scale)) / 1e6
    })
  }
  return out
}
