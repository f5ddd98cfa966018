import t from 'tap'
import { imageSlot, productChunks, splitIntoChunks } from './chunks.ts'

t.test('chunking', async (t) => {
  const products = Array.from({ length: 5 }, (_, i) => ({ serial: i + 1, name: `P${i}`, image_ids: [i * 2, i * 2 + 1] }))
  const images = Array.from({ length: 10 }, (_, i) => ({ url: `u${i}`, status: 'pending' as const }))
  const chunks = splitIntoChunks(products, images, 4)
  t.same(chunks.map((c) => [c.n, c.products.length, c.images.length]), [[0, 4, 4], [1, 1, 4], [2, 0, 2]])
  t.same(splitIntoChunks([], [], 4).length, 1, 'always an inline chunk')
  t.same(imageSlot(0, 4), { n: 0, path: 'images.0' })
  t.same(imageSlot(9, 4), { n: 2, path: 'images.1' })
  t.same(productChunks(3, 2, 5, 4), [0, 1])
  t.same(productChunks(0, 100, 5, 4), [0, 1])
  t.same(productChunks(5, 10, 5, 4), [])
  t.same(productChunks(0, 0, 5, 4), [])
})
