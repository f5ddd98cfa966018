import t from 'tap'
import { parseSignatureHeader, signPayload, verifySignature } from './signature.ts'

const secret = 'a-long-enough-secret'

t.test('signature round trip and refusals', async (t) => {
  const body = '{"event_id":"e1"}'
  const now = 1_800_000_000
  const header = signPayload(secret, body, now)
  t.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/)
  t.same(verifySignature(secret, body, header, now), { ok: true })
  t.same(verifySignature(secret, body, header, now + 300), { ok: true }, 'within tolerance')
  t.match(verifySignature(secret, body, header, now + 301), { ok: false, reason: /tolerance/ })
  t.match(verifySignature(secret, `${body} `, header, now), { ok: false, reason: /does not match/ })
  t.match(verifySignature('another-secret-value', body, header, now), { ok: false, reason: /does not match/ })
  t.match(verifySignature(secret, body, undefined, now), { ok: false, reason: /missing/ })
  t.match(verifySignature(secret, body, 't=abc,v1=zz', now), { ok: false, reason: /malformed/ })
})

t.test('two v1 signatures (a secret being rolled): accepted if any one matches', async (t) => {
  const body = '{"event_id":"e2"}'
  const now = 1_800_000_000
  const good = signPayload(secret, body, now).split('v1=')[1]!
  const other = signPayload('the-previous-secret!', body, now).split('v1=')[1]!
  t.same(verifySignature(secret, body, `t=${now},v1=${good},v1=${other}`, now), { ok: true }, 'first matches')
  t.same(verifySignature(secret, body, `t=${now},v1=${other},v1=${good}`, now), { ok: true }, 'last matches')
  t.match(verifySignature(secret, body, `t=${now},v1=${other},v1=${other}`, now), {
    ok: false,
    reason: /does not match/
  })
  t.same(parseSignatureHeader(`t=${now},v1=${good},v0=xyz`), { t: now, v1: [good] }, 'unknown schemes ignored')
  t.equal(parseSignatureHeader(`t=${now}`), null)
  t.equal(parseSignatureHeader(`v1=${good}`), null)
})

t.test('strict parsing: exactly 64 lowercase hex digits per v1, one t, nothing appended', async (t) => {
  const body = '{"event_id":"e3"}'
  const now = 1_800_000_000
  const good = signPayload(secret, body, now).split('v1=')[1]!
  for (const [header, what] of [
    [`t=${now},v1=${good.toUpperCase()}`, 'upper-cased'],
    [`t=${now},v1=${good}=junk`, 'junk after another ='],
    [`t=${now},v1=${good}00`, 'hex appended'],
    [`t=${now},v1=${good.slice(0, 63)}`, 'one digit short'],
    [`t=${now},v1=${good.toUpperCase()}zz`, 'upper-cased with junk appended'],
    [`t=${now},v1=${good},v1=nothex`, 'a second v1 that is not a signature'],
    [`t=${now},t=${now + 1},v1=${good}`, 'two timestamps'],
    [`t=${now}x,v1=${good}`, 'junk after the timestamp'],
    [`t=${now},v1=${good},junk`, 'a part without ='],
    [`t=${now};v1=${good}`, 'another separator']
  ]) {
    t.equal(parseSignatureHeader(header), null, what)
    t.match(verifySignature(secret, body, header, now), { ok: false, reason: /malformed/ }, what)
  }
  t.same(verifySignature(secret, body, `t=${now}, v1=${good}`, now), { ok: true }, 'a space after the comma')
})
