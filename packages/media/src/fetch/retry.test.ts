import t from 'tap'
import { parseRetryAfter, retryDecision } from './retry.ts'

const now = Date.parse('2026-01-01T00:00:00Z')

t.test('Retry-After: delay-seconds or an HTTP date; anything else is not read', async (t) => {
  t.equal(parseRetryAfter('1', now), 1000)
  t.equal(parseRetryAfter(' 120 ', now), 120_000)
  t.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000)
  t.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0, 'a date past is now')
  t.equal(parseRetryAfter(undefined, now), null)
  t.equal(parseRetryAfter('soon', now), null)
  t.equal(parseRetryAfter('1.5', now), null, 'not delay-seconds')
})

t.test('429 and 503 wait at least what the host asked, at most 10% more', async (t) => {
  for (const status of [429, 503]) {
    const asked = { allowed: true, attempt: 1, status, retryAfter: '1' }
    t.same(retryDecision(asked, 30_000, now, 0), { waitMs: 1000 })
    t.same(retryDecision(asked, 30_000, now, 0.999), { waitMs: 1100 })
    t.same(retryDecision({ ...asked, retryAfter: 'Thu, 01 Jan 2026 00:00:10 GMT' }, 30_000, now, 0), {
      waitMs: 10_000
    })
  }
})

t.test('longer than the cap: refused with what was asked; exactly the cap is waited', async (t) => {
  const asked = { allowed: true, attempt: 1, status: 429, retryAfter: '3600' }
  t.same(retryDecision(asked, 30_000, now, 0.5), { refused: { askedMs: 3_600_000 } })
  t.same(retryDecision({ ...asked, retryAfter: '30' }, 30_000, now, 0), { waitMs: 30_000 })
})

t.test('no retry when got says so, whatever the header; other statuses back off as before', async (t) => {
  t.same(retryDecision({ allowed: false, attempt: 3, status: 429, retryAfter: '1' }, 30_000, now, 0), { waitMs: 0 })
  t.same(retryDecision({ allowed: true, attempt: 1, status: 500, retryAfter: '20' }, 30_000, now, 0), { waitMs: 500 })
  t.same(retryDecision({ allowed: true, attempt: 2, status: 502, retryAfter: undefined }, 30_000, now, 1), {
    waitMs: 2000
  })
  t.same(retryDecision({ allowed: true, attempt: 5, status: undefined, retryAfter: undefined }, 30_000, now, 0), {
    waitMs: 1000
  })
  t.same(retryDecision({ allowed: true, attempt: 1, status: 503, retryAfter: 'soon' }, 30_000, now, 0), {
    waitMs: 500
  })
})
