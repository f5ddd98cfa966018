import t from 'tap'
import { type Found, hintFor, SearchHints } from './hints.ts'

const found = (format: Found['format'], pixels: number, quality: number, floor = 70): Found => ({
  format,
  floor,
  pixels,
  quality,
  alternative: false,
  curve: [{ quality, score: floor + 2, bytes: 1000 }]
})

t.test('no search of the format yet: no hint (the search is its own)', async (t) => {
  t.equal(hintFor([], 'avif', 70, 480 * 360), undefined)
  t.equal(hintFor([found('webp', 480 * 360, 40)], 'avif', 70, 480 * 360), undefined)
})

t.test('the same format at another floor is no hint', async (t) => {
  t.equal(hintFor([found('avif', 480 * 360, 40, 80)], 'avif', 70, 960 * 720), undefined)
})

t.test('what the search at the nearest size found, by ratio of pixels', async (t) => {
  const set = [found('avif', 480 * 360, 22), found('avif', 960 * 720, 35), found('jpeg', 1600 * 1200, 51)]
  t.equal(hintFor(set, 'avif', 70, 1600 * 1200), set[1], '1600 px is nearer 960 than 480')
  t.equal(hintFor(set, 'avif', 70, 560 * 420), set[0], '560 px is nearer 480 than 960')
  t.equal(hintFor(set, 'jpeg', 70, 480 * 360)?.quality, 51)
})

t.test('SearchHints remembers only searches that reached their floor', async (t) => {
  const hints = new SearchHints()
  hints.record(found('webp', 480 * 360, 100), false)
  t.equal(hints.hint('webp', 70, 960 * 720), undefined, 'a miss says where the floor was not reached, not where it is')
  hints.record(found('webp', 480 * 360, 29), true)
  t.equal(hints.hint('webp', 70, 960 * 720)?.quality, 29)
})
