import t from 'tap'
import { refuseOutputRequest, signOutputUrl } from './signed-urls.ts'

const signing = { OUTPUT_URL_TTL_S: 60, WEBHOOK_SECRET: 'a-secret-of-sixteen+' }
const path = '/images/2f1c7e0e-0000-4000-8000-000000000000/3.webp'

t.test('signed output URLs: valid until they expire, bound to their path and secret', async (t) => {
  const now = 1_800_000_000_000
  const url = new URL(signOutputUrl(`http://api.example${path}`, path, signing, now))
  const query = Object.fromEntries(url.searchParams) as { expires: string; signature: string }
  t.equal(url.pathname, path)
  t.equal(query.expires, String(now / 1000 + 60))
  t.equal(refuseOutputRequest(path, query, signing, now + 59_000), null)
  t.match(refuseOutputRequest(path, query, signing, now + 61_000), /expired/)
  t.match(refuseOutputRequest(path.replace('3.webp', '4.webp'), query, signing, now), /does not match/)
  t.match(
    refuseOutputRequest(path, { ...query, expires: String(now / 1000 + 6000) }, signing, now),
    /does not match/,
    'the expiry cannot be extended'
  )
  t.match(
    refuseOutputRequest(path, query, { ...signing, WEBHOOK_SECRET: 'another-secret-1234' }, now),
    /does not match/
  )
  t.match(refuseOutputRequest(path, {}, signing, now), /needs its expires and signature/)
  t.match(refuseOutputRequest(path, { ...query, signature: 'zz' }, signing, now), /does not match/)
  for (const [signature, what] of [
    [query.signature.toUpperCase(), 'upper-cased'],
    [`${query.signature}zz`, 'junk appended'],
    [`${query.signature.toUpperCase()}zz`, 'both'],
    [`${query.signature}0`, 'a digit appended']
  ])
    t.match(refuseOutputRequest(path, { ...query, signature }, signing, now), /does not match/, what)
})

t.test('only the exact form signOutputUrl writes is accepted', async (t) => {
  const now = 1_800_000_000_000
  const query = Object.fromEntries(new URL(signOutputUrl(`http://x${path}`, path, signing, now)).searchParams) as {
    expires: string
    signature: string
  }
  t.equal(refuseOutputRequest(path, query, signing, now), null)
  for (const signature of [query.signature.toUpperCase(), `${query.signature}zz`, `${query.signature}00`, ' '])
    t.match(refuseOutputRequest(path, { ...query, signature }, signing, now), /does not match/, signature)
  for (const expires of [`${query.expires}.0`, ` ${query.expires}`, `0x${Number(query.expires).toString(16)}`, '1e10'])
    t.match(refuseOutputRequest(path, { ...query, expires }, signing, now), /does not match/, expires)
})

t.test('the signature covers the canonical path, not the URL it was appended to', async (t) => {
  const now = 1_800_000_000_000
  const behindPrefix = new URL(signOutputUrl(`https://example.com/api${path}`, path, signing, now))
  t.equal(behindPrefix.pathname, `/api${path}`)
  const query = Object.fromEntries(behindPrefix.searchParams) as { expires: string; signature: string }
  t.equal(refuseOutputRequest(path, query, signing, now), null, 'verified over the path the route serves')
})

t.test('signing off: URLs unchanged and every request served', async (t) => {
  const off = { ...signing, OUTPUT_URL_TTL_S: 0 }
  t.equal(signOutputUrl(`http://api.example${path}`, path, off), `http://api.example${path}`)
  t.equal(refuseOutputRequest(path, {}, off), null)
})
