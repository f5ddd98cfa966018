import type { ImageRecord, ProductRecord } from './schema.ts'

/**
 * A request's rows and images are stored in chunks of `size`: chunk 0 inline in the request document (so every
 * request of up to `size` images is one self-contained document), chunk n ≥ 1 in `request_chunks` under
 * `<request_id>:<n>`. FerretDB v1 reads a whole document for any query and pushes down only `_id` equality, so
 * small documents fetched by _id keep status reads and progress writes flat however large the request.
 */
export interface Chunk {
  n: number
  products: ProductRecord[]
  images: ImageRecord[]
}

export function splitIntoChunks(products: ProductRecord[], images: ImageRecord[], size: number): Chunk[] {
  const count = Math.max(1, Math.ceil(products.length / size), Math.ceil(images.length / size))
  return Array.from({ length: count }, (_, n) => ({
    n,
    products: products.slice(n * size, (n + 1) * size),
    images: images.slice(n * size, (n + 1) * size)
  }))
}

export function chunkId(requestId: string, n: number): string {
  return `${requestId}:${n}`
}

/** Where image `index` lives: its chunk and the dotted path inside that chunk's document. */
export function imageSlot(index: number, size: number): { n: number; path: string } {
  return { n: Math.floor(index / size), path: `images.${index % size}` }
}

/** Chunk numbers holding product rows [offset, offset + limit). */
export function productChunks(offset: number, limit: number, total: number, size: number): number[] {
  const end = Math.min(total, offset + limit)
  if (end <= offset) return []
  const first = Math.floor(offset / size)
  const last = Math.floor((end - 1) / size)
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
}
