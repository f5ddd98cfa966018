import t from 'tap'
import { signPayload, verifySignature } from './signature.ts'

const secret = 'a-long-enough-secret'

t.test('signature round trip and refusals', async (t) => {
  const body = '{"event_id":"e1"}'
  const now = 1_800_000_000
  const header = signPayload(secret, body, now)
  t.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/)
  t.same(verifySignature(secret, body, header, now), { ok: true })
  t.same(verifySignature(secret, body, header, now + 300), { ok: true }, 'within tolerance')
  t.match(verifySignature(secret, body, header, now + 301), { ok: false, reason: /tolerance/ })
  t.match(verifySignature(secret, body + ' ', header, now), { ok: false, reason: /does not match/ })
  t.match(verifySignature('another-secret-value', body, header, now), { ok: false, reason: /does not match/ })
  t.match(verifySignature(secret, body, undefined, now), { ok: false, reason: /missing/ })
  t.match(verifySignature(secret, body, 't=abc,v1=zz', now), { ok: false, reason: /malformed/ })
})
