import t from 'tap'
import { csvOf, ERROR_KEYS, multipart, specApp } from '../../test/spec-app.ts'

const image = (n: number) => `https://a.example/${n}.jpg`
const post = async (
  app: Awaited<ReturnType<typeof specApp>>['app'],
  fields: Parameters<typeof multipart>[0],
  headers = {}
) => {
  const body = await multipart(fields)
  const res = await app.inject({ method: 'POST', url: '/upload', ...body, headers: { ...body.headers, ...headers } })
  return { res, body: res.json() }
}

t.test('a good upload: 202 with its status link, one Pending request stored with its options', async (t) => {
  const { app, db } = await specApp(t)
  const { res, body } = await post(app, {
    file: {
      csv: csvOf([
        [1, 'Shoe', [image(1), image(2)]],
        [2, 'Hat', [image(2)]]
      ])
    },
    quality: '70',
    format: 'webp',
    webhook_url: 'https://hooks.example/done'
  })
  t.equal(res.statusCode, 202)
  t.match(body, { status: 'Pending', total_images: 2, total_products: 2, request_id: /^[0-9a-f-]{36}$/ })
  t.equal(res.headers.location, `/status/${body.request_id}`)
  t.equal(body.status_url, `http://127.0.0.1:3000/status/${body.request_id}`)
  t.match(await db.collection('requests').findOne({ request_id: body.request_id }), {
    status: 'Pending',
    webhook_url: 'https://hooks.example/done',
    options: { quality: 70, format: 'webp' }
  })
  t.equal(await db.collection('jobs').countDocuments({ request_id: body.request_id, kind: 'images' }), 1)
  const unit = await db.collection('jobs').findOne({ request_id: body.request_id, kind: 'images' })
  t.match(unit!.data.options, { quality: 70, format: 'webp' }, 'fields sent after the file reach the units too')
  t.equal(unit!.state, 'pending', 'released')
})

t.test('a bad CSV: 400 with every bad row, and nothing stored', async (t) => {
  const { app, db } = await specApp(t)
  const csv = 'S. No.,Product Name,Input Image Urls\n1,A,"https://a.example/1.jpg"\n1,,"ftp://a.example/x"\n'
  const { res, body } = await post(app, { file: { csv } })
  t.equal(res.statusCode, 400)
  t.same(Object.keys(body).sort(), [...ERROR_KEYS, 'errors'].sort(), 'ErrorBody with its rows')
  t.match(body, { statusCode: 400, error: 'Bad Request', message: 'the CSV has 3 problem(s); nothing was stored' })
  t.same(
    body.errors.map((e: { row: number; column: string }) => [e.row, e.column]),
    [
      [3, 'S. No.'],
      [3, 'Product Name'],
      [3, 'Input Image Urls']
    ]
  )
  t.equal(await db.collection('requests').countDocuments(), 0)
  t.equal(await db.collection('jobs').countDocuments(), 0)
})

t.test('bad options, a bad webhook URL, the wrong media type, a text field: refused by name', async (t) => {
  const { app, db } = await specApp(t)
  const csv = { csv: csvOf([[1, 'A', [image(1)]]]) }
  const refused = async (fields: Parameters<typeof multipart>[0], status: number, message: RegExp) => {
    const { res, body } = await post(app, fields)
    t.equal(res.statusCode, status, JSON.stringify(Object.keys(fields)))
    t.same(Object.keys(body).sort(), ERROR_KEYS)
    t.match(body, { statusCode: status, message })
  }
  await refused({ file: csv, quality: '101' }, 400, /^quality: expected an integer from 1 to 100/)
  await refused({ file: csv, format: 'bmp' }, 400, /^format: expected one of/)
  await refused({ file: csv, colour: 'red' }, 400, /^unknown field "colour"/)
  await refused({ file: csv, webhook_url: 'javascript:alert(1)' }, 400, /^webhook_url: /)
  await refused({ file: { csv: '\x89PNG', type: 'image/png' } }, 415, /"file" must be a CSV, got image\/png/)
  await refused({ file: csvOf([[1, 'A', [image(1)]]]) }, 400, /as a file part/)
  const json = await app.inject({ method: 'POST', url: '/upload', payload: {} })
  t.equal(json.statusCode, 415)
  t.match(json.json(), { statusCode: 415, error: 'Unsupported Media Type', message: /multipart\/form-data/ })
  t.equal(await db.collection('requests').countDocuments(), 0)
})

t.test('a CSV over MAX_CSV_BYTES is 413, naming the limit', async (t) => {
  const { app } = await specApp(t, { MAX_CSV_BYTES: '1000' })
  const rows = Array.from({ length: 40 }, (_, i): [number, string, string[]] => [i + 1, `SKU${i}`, [image(i)]])
  const { res, body } = await post(app, { file: { csv: csvOf(rows) } })
  t.equal(res.statusCode, 413)
  t.same(body, {
    statusCode: 413,
    error: 'Payload Too Large',
    message: 'the CSV is larger than 1000 bytes (MAX_CSV_BYTES)'
  })
})

t.test('quotas: 429 with Retry-After over the hourly uploads, 413 for more images than a whole day', async (t) => {
  const { app, db } = await specApp(t, {
    API_KEYS: 'key-a,key-b',
    QUOTA_REQUESTS_PER_HOUR: '1',
    QUOTA_IMAGES_PER_DAY: '3'
  })
  const auth = (key: string) => ({ authorization: `Bearer ${key}` })
  const one = { file: { csv: csvOf([[1, 'A', [image(1)]]]) } }
  const unauthorised = await post(app, one)
  t.equal(unauthorised.res.statusCode, 401)
  t.equal(unauthorised.res.headers['www-authenticate'], 'Bearer')
  t.same(unauthorised.body, {
    statusCode: 401,
    error: 'Unauthorized',
    message: 'a valid API key is required: Authorization: Bearer <key>'
  })

  const whole = await post(
    app,
    { file: { csv: csvOf([[1, 'A', [image(1), image(2), image(3), image(4)]]]) } },
    auth('key-a')
  )
  t.equal(whole.res.statusCode, 413)
  t.match(whole.body, { error: 'Payload Too Large', message: /more than the whole budget of 3 images per day/ })
  t.equal((await post(app, one, auth('key-a'))).res.statusCode, 202, 'the refused upload gave its hourly slot back')
  const again = await post(app, one, auth('key-a'))
  t.equal(again.res.statusCode, 429)
  t.match(again.body, { statusCode: 429, error: 'Too Many Requests', message: /at most 1 uploads per hour/ })
  const retryAfter = Number(again.res.headers['retry-after'])
  t.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After: ${retryAfter}`)
  t.equal((await post(app, one, auth('key-b'))).res.statusCode, 202, 'another key has its own quota')
  t.equal(await db.collection('requests').countDocuments(), 2)
})

t.test('a creation the sweep discarded before its commit: 503, nothing left, the quota given back', async (t) => {
  let settled: unknown
  const pauses = {
    // As if this upload had stalled past UPLOAD_STAGING_TIMEOUT_MS: a sweep runs before it commits.
    beforeCommit: async () => {
      settled = await spec.requests.settleCreations(new Date(Date.now() + 60_000))
    }
  }
  const spec = await specApp(t, { QUOTA_REQUESTS_PER_HOUR: '1' }, { creationPauses: pauses })
  const one = { file: { csv: csvOf([[1, 'A', [image(1)]]]) } }
  const { res, body } = await post(spec.app, one)
  t.equal(res.statusCode, 503)
  t.match(body, { message: /could not be stored in time \(UPLOAD_STAGING_TIMEOUT_MS\); retry/ })
  t.same(settled, { discarded: 1, released: 0, orphaned: 0 })
  for (const name of ['requests', 'request_products', 'jobs'])
    t.equal(await spec.db.collection(name).countDocuments(), 0, `nothing in ${name}`)
  pauses.beforeCommit = async () => undefined
  t.equal((await post(spec.app, one)).res.statusCode, 202, 'the hourly upload was given back')
})

t.test(
  'settleCreations: a committed request whose units stayed held is released; units with no request go',
  async (t) => {
    const { app, db, requests } = await specApp(t)
    const { body } = await post(app, { file: { csv: csvOf([[1, 'A', [image(1)]]]) } })
    const jobs = db.collection('jobs')
    // As if the API had died between its commit and the release: the request's units held.
    await jobs.updateMany(
      { request_id: body.request_id, kind: 'images' },
      { $set: { state: 'held' }, $unset: { due_at: '' } }
    )
    // And units left by an upload that wrote on after a sweep had discarded its request.
    const [unit] = await requests.jobs.units(body.request_id)
    await requests.jobs.createHeld('gone', [unit!.data])
    const later = new Date(Date.now() + 60_000)
    t.same(await requests.settleCreations(later), { discarded: 0, released: 1, orphaned: 1 })
    t.same(
      (await requests.jobs.units(body.request_id)).map((u) => u.state),
      ['pending'],
      'released'
    )
    t.equal(await jobs.countDocuments({ request_id: 'gone' }), 0, 'the orphans are removed')
    t.same(
      await requests.settleCreations(later),
      { discarded: 0, released: 0, orphaned: 0 },
      'and a second pass finds nothing'
    )
  }
)

t.test(
  'outputs: presets or specs are stored expanded with the request and its units; a bad one is 400 by name',
  async (t) => {
    const { app, db } = await specApp(t)
    const csv = { csv: csvOf([[1, 'A', [image(1)]]]) }
    const { res, body } = await post(app, {
      file: csv,
      outputs: '["amazon", {"name": "thumb", "width": 200, "format": "webp", "quality": 80}]'
    })
    t.equal(res.statusCode, 202)
    const doc = await db.collection('requests').findOne({ request_id: body.request_id })
    t.same(
      doc!.outputs.map((o: { name: string }) => o.name),
      ['amazon', 'thumb']
    )
    t.match(doc!.outputs[1], { name: 'thumb', format: 'webp', width: 200, height: null, fit: 'inside', quality: 80 })
    const unit = await db.collection('jobs').findOne({ request_id: body.request_id, kind: 'images' })
    t.same(unit!.data.outputs, doc!.outputs, 'each work unit carries the set')

    const list = await post(app, { file: csv, outputs: 'web,google' })
    t.equal(list.res.statusCode, 202)
    const listed = await db.collection('requests').findOne({ request_id: list.body.request_id })
    t.equal(listed!.outputs.length, 10)

    const plain = await post(app, { file: csv })
    t.notOk(
      'outputs' in (await db.collection('requests').findOne({ request_id: plain.body.request_id }))!,
      'absent without it'
    )

    for (const [outputs, message] of [
      ['web,etsy', /^outputs\[1\]: unknown preset "etsy"/],
      ['[{"name": "a", "width": "wide"}]', /^outputs\[0\]\.width: expected an integer from 1 to 16384; got "wide"$/],
      ['[{"name": "g", "format": "avif", "profile": "google"}]', /^outputs\[0\]\.format: google does not take avif/],
      ['[{"name": "a"}, {"name": "a"}]', /^outputs: the name "a" is used twice/]
    ] as const) {
      const refused = await post(app, { file: csv, outputs })
      t.equal(refused.res.statusCode, 400, outputs)
      t.match(refused.body, { statusCode: 400, message })
    }
    t.equal(await db.collection('requests').countDocuments(), 3, 'nothing stored for the refused ones')
  }
)
