import t from 'tap'
import { BodyRate } from './body-rate.ts'

/** Feeds `rate` one tick per second of `bytesPerS(second)`; the second of the first failed check, or null. */
function firstFailure(rate: BodyRate, seconds: number, bytesPerS: (s: number) => number): number | null {
  let bytes = 500 // the headers, read before the watch began
  for (let s = 1; s <= seconds; s++) {
    bytes += bytesPerS(s)
    if (!rate.check(s * 1000, bytes)) return s
  }
  return null
}

const start = { at: 0, bytes: 500 }

t.test('a body dripped a byte a second fails the first check after the grace window', async (t) => {
  t.equal(
    firstFailure(new BodyRate(1024, 10_000, start), 60, () => 1),
    10
  )
})

t.test('a steady body at the minimum, or far above it, never fails', async (t) => {
  t.equal(
    firstFailure(new BodyRate(1024, 10_000, start), 120, () => 1024),
    null
  )
  t.equal(
    firstFailure(new BodyRate(1024, 10_000, start), 120, () => 64 * 1024),
    null
  )
})

t.test('a stall shorter than the window passes; a whole window without bytes fails', async (t) => {
  const burst = (quiet: number) => (s: number) => (s > 12 && s <= 12 + quiet ? 0 : 8 * 1024)
  t.equal(firstFailure(new BodyRate(1024, 10_000, start), 60, burst(8)), null, '8 s quiet at 8 KiB/s otherwise')
  t.equal(
    firstFailure(new BodyRate(1024, 10_000, start), 60, burst(30)),
    21,
    'a 30 s stall is cut within one window of its start'
  )
})

t.test('a fast start buys no drip time beyond one window', async (t) => {
  // 1 MB in the first second, then a byte a second: judged on the last window only.
  t.equal(
    firstFailure(new BodyRate(1024, 10_000, start), 60, (s) => (s === 1 ? 1_000_000 : 1)),
    11
  )
})
