import t from 'tap'
import { afterAnswer, conditionalHeaders, validatorsOf } from './decision.ts'

const source = { etag: '"v1"', last_modified: 'Wed, 02 Dec 2026 10:00:00 GMT', sha256: 'a'.repeat(64) }

t.test('a conditional GET only for a remembered source whose outputs are all there', async (t) => {
  t.same(conditionalHeaders(source, true), {
    'if-none-match': '"v1"',
    'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT'
  })
  t.equal(conditionalHeaders(source, false), undefined, 'an output missing: a 304 would leave nothing to make it from')
  t.equal(conditionalHeaders(null, true), undefined, 'never seen')
  t.equal(conditionalHeaders({ sha256: source.sha256 }, true), undefined, 'no validators: a plain GET')
  t.same(conditionalHeaders({ etag: '"v1"', sha256: source.sha256 }, true), { 'if-none-match': '"v1"' })
})

t.test('a 304 reuses only when asked for; a body reuses when its bytes have every output', async (t) => {
  const ready = (sha: string) => sha === source.sha256
  t.same(afterAnswer({ status: 'not_modified' }, true, ready), { reuse: 'not_modified' })
  t.same(afterAnswer({ status: 'not_modified' }, false, ready), { download: 'again' }, 'a 304 we did not ask for')
  t.same(afterAnswer({ status: 'ok', sha256: source.sha256 }, true, ready), { reuse: 'same_content' })
  t.same(afterAnswer({ status: 'ok', sha256: 'b'.repeat(64) }, true, ready), { process: true }, 'changed bytes')
})

t.test('validators kept from an answer', async (t) => {
  t.same(validatorsOf({ etag: 'W/"x"', 'last-modified': source.last_modified }, source.sha256), {
    sha256: source.sha256,
    etag: 'W/"x"',
    last_modified: source.last_modified
  })
  t.same(validatorsOf({}, source.sha256), { sha256: source.sha256 }, 'none sent')
  t.same(validatorsOf({ etag: 'x'.repeat(600) }, source.sha256), { sha256: source.sha256 }, 'absurd ones dropped')
})
