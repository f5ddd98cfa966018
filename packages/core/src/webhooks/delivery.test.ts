import t from 'tap'
import { nextDelayMs } from './delivery.ts'

t.test('backoff doubles with jitter; the default 8 attempts spread over about ten minutes', async (t) => {
  t.equal(nextDelayMs(1, 5000, 0), 2500)
  t.equal(nextDelayMs(1, 5000, 0.999), 4998)
  t.equal(nextDelayMs(3, 5000, 0), 10000)
  const longest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0.999)).reduce((a, b) => a + b)
  const shortest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0)).reduce((a, b) => a + b)
  t.ok(longest > 9 * 60_000 && longest < 11 * 60_000, `at most ${(longest / 60000).toFixed(1)} min`)
  t.ok(shortest > 5 * 60_000, `at least ${(shortest / 60000).toFixed(1)} min`)
})
