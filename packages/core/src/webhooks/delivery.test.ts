import t from 'tap'
import { deliveryState, nextDelayMs } from './delivery.ts'

t.test('backoff doubles with jitter; the default 8 attempts spread over about ten minutes', async (t) => {
  t.equal(nextDelayMs(1, 5000, 0), 2500)
  t.equal(nextDelayMs(1, 5000, 0.999), 4998)
  t.equal(nextDelayMs(3, 5000, 0), 10000)
  const longest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0.999)).reduce((a, b) => a + b)
  const shortest = Array.from({ length: 7 }, (_, i) => nextDelayMs(i + 1, 5000, 0)).reduce((a, b) => a + b)
  t.ok(longest > 9 * 60_000 && longest < 11 * 60_000, `at most ${(longest / 60000).toFixed(1)} min`)
  t.ok(shortest > 5 * 60_000, `at least ${(shortest / 60000).toFixed(1)} min`)
})

t.test('a 2xx delivers; anything else retries until the last attempt, which gives up', async (t) => {
  const at = new Date()
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 204 }, 8, 8), 'delivered')
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 500, error: 'HTTP 500' }, 3, 8), 'pending')
  t.equal(deliveryState({ at, duration_ms: 5, error: 'download timed out' }, 8, 8), 'failed')
  t.equal(deliveryState({ at, duration_ms: 5, status_code: 301 }, 1, 8), 'pending', 'a redirect is not a delivery')
})
