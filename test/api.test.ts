import { randomUUID } from 'node:crypto'
import type { StatusView } from '@imgproc/core'
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startService, upload } from './support/service.ts'

const service = await startService({ workers: 0, env: { MAX_CSV_BYTES: '20000', MAX_IMAGES_PER_REQUEST: '5' } })
t.teardown(() => service.stop())
const requests = () => service.db.collection('requests').countDocuments()

t.test('status of an unknown id is 404, of a malformed id 400', async (t) => {
  const unknown = await fetch(`${service.apiUrl}/status/${randomUUID()}`)
  t.equal(unknown.status, 404)
  t.match(await unknown.json(), { statusCode: 404, message: /no request with id/ })
  const bad = await fetch(`${service.apiUrl}/status/not-a-uuid`)
  t.equal(bad.status, 400)
  t.match(await bad.json(), { message: /request_id/ })
})

t.test('an invalid CSV is refused with every bad row, and nothing is stored', async (t) => {
  const csv = [
    'S. No.,Product Name,Input Image Urls',
    '1,SKU1,"https://a.example/1.jpg"',
    '0,SKU2,"https://a.example/2.jpg"',
    '1,,"ftp://a.example/3.jpg, not a url"',
    '4,SKU4,""',
    '5,SKU5,"https://a.example/5.jpg",extra'
  ].join('\n')
  const res = await upload(service.apiUrl, csv)
  t.equal(res.status, 400)
  t.same(
    (res.body.errors ?? []).map((e) => [e.row, e.column]),
    [
      [3, 'S. No.'],
      [4, 'S. No.'],
      [4, 'Product Name'],
      [4, 'Input Image Urls'],
      [4, 'Input Image Urls'],
      [5, 'Input Image Urls'],
      [6, null]
    ]
  )
  t.match(res.body.errors![1].message, /serial 1 repeats row 2/)
  t.match(res.body.errors![3].message, /scheme "ftp" is not allowed/)
  t.match(res.body.errors![4].message, /not an absolute URL/)
  t.equal(await requests(), 0)
})

t.test('a renamed header and a broken quote are reported', async (t) => {
  const renamed = await upload(service.apiUrl, 'Serial,Product Name,Input Image Urls\n1,A,"https://a.example/1.jpg"\n')
  t.equal(renamed.status, 400)
  t.match(renamed.body.errors![0], { row: 1, column: 'S. No.', message: /"Serial"; expected "S. No."/ })
  const quote = await upload(
    service.apiUrl,
    'S. No.,Product Name,Input Image Urls\n1,A,"https://a.example/1.jpg\n2,B,"x"y\n'
  )
  t.equal(quote.status, 400)
  t.match(quote.body.errors, [{ row: 2, column: null, message: /malformed CSV/ }], 'the unclosed quote opens on row 2')
  t.equal(await requests(), 0)
})

t.test('missing file, wrong content types, too big and too many images', async (t) => {
  const form = new FormData()
  form.append('webhook_url', 'https://hooks.example/x')
  const noFile = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: form })
  t.equal(noFile.status, 400)
  t.match(await noFile.json(), { message: /file/ })

  const json = await fetch(`${service.apiUrl}/upload`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' }
  })
  t.equal(json.status, 415)
  t.match(await json.json(), { message: /multipart\/form-data/ })

  const png = new FormData()
  png.append('file', new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0])], { type: 'image/png' }), 'x.png')
  const image = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body: png })
  t.equal(image.status, 415)
  t.match(await image.json(), { message: /must be a CSV/ })

  const big = csvOf(Array.from({ length: 1000 }, (_, i) => [i + 1, `SKU${i}`, [`https://a.example/${i}.jpg`]]))
  const tooBig = await upload(service.apiUrl, big)
  t.equal(tooBig.status, 413)
  t.match(tooBig.body.message, /larger than 20000 bytes/)

  const many = await upload(
    service.apiUrl,
    csvOf(Array.from({ length: 6 }, (_, i) => [i + 1, `SKU${i}`, [`https://a.example/${i}.jpg`]]))
  )
  t.equal(many.status, 400)
  t.match(many.body.errors![0].message, /6 distinct image URLs; the limit per request is 5/)

  const badOption = await upload(service.apiUrl, csvOf([[1, 'A', ['https://a.example/1.jpg']]]), { quality: '101' })
  t.equal(badOption.status, 400)
  t.match(badOption.body.message, /quality.*100/)

  const badHook = await upload(service.apiUrl, csvOf([[1, 'A', ['https://a.example/1.jpg']]]), {
    webhook_url: 'javascript:alert(1)'
  })
  t.equal(badHook.status, 400)
  t.match(badHook.body.message, /webhook_url/)
  t.equal(await requests(), 0, 'no rejected upload wrote a document')
})

t.test('a valid upload stores one Pending document with options', async (t) => {
  const csv =
    '\uFEFF s. no. , PRODUCT NAME,Input Image Urls\r\n1,SKU1," https://a.example/1.jpg , https://a.example/2.jpg "\r\n'
  const res = await upload(service.apiUrl, csv, { quality: '80', format: 'webp', max_width: '500' })
  t.equal(res.status, 202)
  const doc = (await service.request(res.body.request_id))!
  t.match(doc, {
    status: 'Pending',
    counts: { total: 2, pending: 2 },
    options: { quality: 80, format: 'webp', max_width: 500, mozjpeg: false }
  })
  t.same(
    doc.images.map((i) => i.url),
    ['https://a.example/1.jpg', 'https://a.example/2.jpg']
  )
  const status = (await (await fetch(`${service.apiUrl}/status/${res.body.request_id}?limit=0`)).json()) as StatusView
  t.equal(status.products.items.length, 0, 'limit=0 is a summary')
  t.equal(status.counts.total, 2)
})

t.test('form fields are read as generated clients write them; anything else is refused by name', async (t) => {
  const csv = csvOf([[1, 'A', ['https://a.example/1.jpg']]])
  const stored = async (fields: Record<string, string>) => {
    const res = await upload(service.apiUrl, csv, fields)
    t.equal(res.status, 202, JSON.stringify(fields))
    return (await service.request(res.body.request_id))?.options
  }
  t.match(await stored({ mozjpeg: 'True', quality: 'auto:eco' }), { mozjpeg: true, quality: 'auto:eco' }, 'Python')
  t.match(await stored({ mozjpeg: '1', max_height: '+300' }), { mozjpeg: true, max_height: 300 })
  t.match(await stored({ mozjpeg: 'FALSE', format: 'png' }), { mozjpeg: false, format: 'png' })

  const before = await requests()
  const refused = async (form: FormData | Record<string, string>, message: RegExp) => {
    const body = form instanceof FormData ? form : new FormData()
    if (!(form instanceof FormData)) for (const [k, v] of Object.entries(form)) body.append(k, v)
    body.append('file', new Blob([csv], { type: 'text/csv' }), 'a.csv')
    const res = await fetch(`${service.apiUrl}/upload`, { method: 'POST', body })
    t.equal(res.status, 400)
    t.match(((await res.json()) as { message: string }).message, message)
  }
  await refused({ mozjpeg: 'yes' }, /^mozjpeg: expected true or false \(any case\), or 1 or 0; got "yes"$/)
  await refused(
    { quality: 'best' },
    /^quality: expected an integer from 1 to 100, or one of auto, auto:eco, auto:good, auto:high; got "best"$/
  )
  await refused({ max_width: '1.5' }, /^max_width: expected an integer from 1 to 16384; got "1.5"$/)
  await refused({ format: 'gif' }, /^format: expected one of original, jpeg, webp, avif, png; got "gif"$/)
  await refused({ colour: 'red' }, /^unknown field "colour"; the form takes file, webhook_url, quality/)
  const twice = new FormData()
  twice.append('quality', '60')
  twice.append('quality', '70')
  await refused(twice, /^quality: sent 2 times; send it once$/)
  t.equal(await requests(), before, 'nothing stored for a refused form')
})

t.test('file routes cannot leave the storage directory', async (t) => {
  const id = randomUUID()
  for (const path of [
    `/images/${id}/..%2F..%2Fetc%2Fpasswd`,
    `/images/${id}/%2e%2e%2fpackage.json`,
    `/images/..%2F${id}/0.jpg`,
    `/requests/..%2F..%2Fpackage.json/output.csv`,
    '/images/%2Fetc%2Fpasswd/0.jpg'
  ]) {
    const res = await fetch(service.apiUrl + path)
    t.ok([400, 404].includes(res.status), `${path} → ${res.status}`)
    t.notMatch(await res.text(), /root:|"name"/)
  }
  t.equal((await fetch(`${service.apiUrl}/requests/${id}/output.csv`)).status, 404)
})

t.test('OpenAPI is generated from the route schemas', async (t) => {
  type Operation = { responses: Record<string, unknown>; requestBody: { content: Record<string, unknown> } }
  const doc = (await (await fetch(`${service.apiUrl}/openapi.json`)).json()) as {
    openapi: string
    paths: Record<string, Record<string, Operation>>
  }
  t.equal(doc.openapi.slice(0, 2), '3.')
  t.same(Object.keys(doc.paths['/upload']!.post!.responses).sort(), [
    '202',
    '400',
    '401',
    '408',
    '413',
    '415',
    '429',
    '503'
  ])
  t.ok(doc.paths['/upload']!.post!.requestBody.content['multipart/form-data'])
  t.same(Object.keys(doc.paths['/status/{request_id}']!.get!.responses).sort(), ['200', '400', '401', '404', '503'])
  t.ok(doc.paths['/webhook']!.post!.responses['204'])
  t.ok(doc.paths['/requests/{request_id}/output.csv'])
})

t.test(
  'API keys, when configured, guard upload and status (each request for its own key) but not outputs',
  async (t) => {
    const guarded = await startService({ workers: 0, env: { API_KEYS: 'k-one, k-two' } })
    t.teardown(() => guarded.stop())
    const csv = csvOf([[1, 'A', ['https://a.example/1.jpg']]])
    t.equal((await upload(guarded.apiUrl, csv)).status, 401)
    t.equal((await upload(guarded.apiUrl, csv, {}, { authorization: 'Bearer wrong' })).status, 401)
    const ok = await upload(guarded.apiUrl, csv, {}, { authorization: 'Bearer k-two' })
    t.equal(ok.status, 202)
    t.equal((await fetch(`${guarded.apiUrl}/status/${ok.body.request_id}`)).status, 401)
    t.equal(
      (await fetch(`${guarded.apiUrl}/status/${ok.body.request_id}`, { headers: { authorization: 'Bearer k-one' } }))
        .status,
      404,
      'another key sees no such request'
    )
    t.equal(
      (await fetch(`${guarded.apiUrl}/status/${ok.body.request_id}`, { headers: { authorization: 'Bearer k-two' } }))
        .status,
      200
    )
    t.equal(
      (await fetch(`${guarded.apiUrl}/requests/${ok.body.request_id}/output.csv`)).status,
      404,
      'outputs need no key (404: not written yet)'
    )
  }
)
