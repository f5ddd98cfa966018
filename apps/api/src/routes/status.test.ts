import { randomUUID } from 'node:crypto'
import t from 'tap'
import { csvOf, ERROR_KEYS, multipart, specApp, unreachableStore } from '../../test/spec-app.ts'

type App = Awaited<ReturnType<typeof specApp>>['app']

async function uploaded(app: App, products: number, headers: Record<string, string> = {}): Promise<string> {
  const rows = Array.from({ length: products }, (_, i): [number, string, string[]] => [
    i + 1,
    `SKU${i + 1}`,
    [`https://a.example/${i}.jpg`]
  ])
  const body = await multipart({ file: { csv: csvOf(rows) } })
  const res = await app.inject({ method: 'POST', url: '/upload', ...body, headers: { ...body.headers, ...headers } })
  if (res.statusCode !== 202) throw new Error(`upload refused: ${res.body}`)
  return res.json().request_id
}

t.test('found: the request, its counts, and a page of products', async (t) => {
  const { app } = await specApp(t)
  const id = await uploaded(app, 5)
  const res = await app.inject(`/status/${id}`)
  t.equal(res.statusCode, 200)
  t.match(res.json(), {
    request_id: id,
    status: 'Pending',
    progress_pct: 0,
    counts: { total: 5, succeeded: 0, failed: 0, pending: 5 },
    output_csv_url: null,
    products: { offset: 0, limit: 100, total: 5, next_offset: null }
  })
  t.same(
    res.json().products.items.map((p: { serial: number }) => p.serial),
    [1, 2, 3, 4, 5]
  )
  t.match(res.json().products.items[0].images, [{ input_url: 'https://a.example/0.jpg', status: 'pending' }])
})

t.test('paging: offset and limit, next_offset until the end, limit=0 a summary', async (t) => {
  const { app } = await specApp(t)
  const id = await uploaded(app, 5)
  const page = async (query: string) => (await app.inject(`/status/${id}?${query}`)).json().products
  const serials = (p: { items: Array<{ serial: number }> }) => p.items.map((i) => i.serial)
  const first = await page('offset=0&limit=2')
  t.same([serials(first), first.next_offset], [[1, 2], 2])
  const middle = await page('offset=2&limit=2')
  t.same([serials(middle), middle.next_offset], [[3, 4], 4])
  const last = await page('offset=4&limit=2')
  t.same([serials(last), last.next_offset], [[5], null])
  const past = await page('offset=9&limit=2')
  t.same([serials(past), past.next_offset, past.total], [[], null, 5])
  const summary = await page('limit=0')
  t.same([serials(summary), summary.total], [[], 5])
  for (const bad of ['limit=1001', 'limit=-1', 'offset=-1', 'limit=two']) {
    const res = await app.inject(`/status/${id}?${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.match(res.json(), { statusCode: 400, error: 'Bad Request', message: /^invalid querystring: / })
  }
})

t.test('unknown and malformed ids; with API keys, another tenant sees no such request', async (t) => {
  const { app } = await specApp(t, { API_KEYS: 'key-a,key-b' })
  const a = { authorization: 'Bearer key-a' }
  const id = await uploaded(app, 1, a)
  t.equal((await app.inject({ url: `/status/${id}`, headers: a })).statusCode, 200)
  const other = await app.inject({ url: `/status/${id}`, headers: { authorization: 'Bearer key-b' } })
  const unknown = await app.inject({ url: `/status/${randomUUID()}`, headers: a })
  t.equal(other.statusCode, 404)
  t.equal(unknown.statusCode, 404)
  t.same(Object.keys(other.json()).sort(), ERROR_KEYS)
  t.same(
    { ...other.json(), message: other.json().message.replace(id, '<id>') },
    { ...unknown.json(), message: unknown.json().message.replace(/[0-9a-f-]{36}/, '<id>') },
    "another tenant's request is answered exactly like one that does not exist"
  )
  t.equal((await app.inject(`/status/${id}`)).statusCode, 401, 'no key')
  const malformed = await app.inject({ url: '/status/not-a-uuid', headers: a })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json(), { message: /^invalid params: .*request_id/ })
})

t.test('the database away: 503, the outage named, nothing of its internals', async (t) => {
  const { app } = await specApp(t, {}, { requests: unreachableStore(t) })
  const res = await app.inject(`/status/${randomUUID()}`)
  t.equal(res.statusCode, 503)
  t.same(res.json(), {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'the database is unavailable; retry shortly'
  })
})
