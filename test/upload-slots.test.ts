// Issue 30, item 2: slow uploads cannot hold every upload turn. Real slow clients (net.Socket, a byte a second)
// against the real API process: turns per tenant, a minimum body rate, and quotas checked before the body.
import t from 'tap'
import { csvOf } from './support/csv.ts'
import { startService, upload } from './support/service.ts'
import { multipartBody, replyJson, type SlowUpload, slowUpload } from './support/slow-client.ts'
import { waitFor } from './support/wait.ts'

const auth = (key: string) => ({ authorization: `Bearer ${key}` })
const rows = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i): [number, string, string[]] => [
    i + 1,
    `P${i}`,
    [`https://cdn.example/${tag}/${i}.jpg`]
  ])
const portOf = (url: string) => Number(new URL(url).port)
/** Four connections, each sending its body a byte a second: the attack of issue 30. */
const drippers = (port: number, options: { from?: string; headers?: Record<string, string> }) =>
  Array.from({ length: 4 }, () =>
    slowUpload(port, { body: multipartBody('drip', csvOf(rows(50, 'drip'))), everyMs: 1000, chunk: 1, ...options })
  )
const stopAll = (uploads: SlowUpload[]) => {
  for (const u of uploads) u.stop()
}

t.test(
  'four drippers under one key hold one turn, not four: other keys get 202 meanwhile; the dripper is cut off',
  async (t) => {
    // Defaults: MAX_CONCURRENT_UPLOADS 4, MAX_UPLOADS_PER_TENANT 1, UPLOAD_MIN_BYTES_PER_S 1024 over 10 000 ms.
    const service = await startService({ workers: 0, env: { API_KEYS: 'key-a,key-b,key-c' } })
    const port = portOf(service.apiUrl)
    const drips = drippers(port, { headers: auth('key-a') })
    t.teardown(async () => {
      stopAll(drips)
      await service.stop()
    })
    // Three wait UPLOAD_QUEUE_MS (2 s) for key-a's one turn, then are refused; one holds it, dripping.
    await new Promise((r) => setTimeout(r, 6000))
    const answered = drips.flatMap((d) => d.result() ?? [])
    t.equal(answered.length, 3, 'three of the four are answered within 6 s')
    for (const r of answered) {
      t.equal(r.status, 429)
      t.match(r.reply, /\r\nretry-after: 2\r\n/i)
      t.match(
        replyJson(r.reply).message,
        /at most 1 upload\(s\) per API key are read at once \(MAX_UPLOADS_PER_TENANT\)/
      )
    }
    const holder = drips.find((d) => d.result() === null)!

    // While key-a's dripper holds its turn: other keys upload, one of them on a slow but steady link (4 KiB/s).
    const csv = csvOf(rows(1400, 'steady'))
    const steadyStarted = Date.now()
    const steady = slowUpload(port, {
      body: multipartBody('steady', csv),
      everyMs: 125,
      chunk: 512,
      headers: auth('key-c')
    })
    const other = await upload(service.apiUrl, csvOf(rows(1, 'b')), {}, auth('key-b'))
    t.equal(
      other.status,
      202,
      `key-b is accepted while key-a drips${other.body.message ? `: ${other.body.message}` : ''}`
    )
    t.ok(holder.sent() > 0 && holder.result() === null, 'the dripper still holds its turn')

    const cut = await holder.done
    t.equal(cut.status, 408, 'the dripper is answered 408 Request Timeout')
    t.match(replyJson(cut.reply), {
      statusCode: 408,
      message: /slower than 1024 bytes\/s over 10000 ms \(UPLOAD_MIN_BYTES_PER_S, UPLOAD_RATE_WINDOW_MS\)/
    })
    t.match(cut.reply, /\r\nconnection: close\r\n/i)
    t.ok(
      cut.answeredAfterMs! >= 9_500 && cut.answeredAfterMs! < 13_000,
      `cut off ${cut.answeredAfterMs} ms after it connected, having sent ${cut.bodySentBeforeAnswer} bytes (the limit is 60 000 ms of REQUEST_TIMEOUT_MS)`
    )
    t.ok(cut.closedAfterMs - cut.answeredAfterMs! < 1000, 'and its connection closed')

    const steadyDone = await steady.done
    t.equal(steadyDone.status, 202, `the steady 4 KiB/s upload (${csv.length} bytes) is accepted`)
    t.match(replyJson(steadyDone.reply), { total_images: 1400 })
    t.ok(Date.now() - steadyStarted > 10_000, 'after longer than one rate window')
    t.equal(
      (await upload(service.apiUrl, csvOf(rows(1, 'a')), {}, auth('key-a'))).status,
      202,
      "key-a's turn was given back"
    )
    const metrics = await (await fetch(`${service.apiUrl}/metrics`)).text()
    t.match(metrics, /imgproc_uploads_refused_total\{reason="tenant_busy",app="api"\} 3\n/)
    t.match(metrics, /imgproc_uploads_refused_total\{reason="too_slow",app="api"\} 1\n/)
  }
)

t.test(
  'without API keys, turns are per client address: drippers from one address leave the others theirs',
  async (t) => {
    // A rate window and a request timeout longer than the test: the dripper keeps its turn throughout.
    const service = await startService({
      workers: 0,
      env: { UPLOAD_RATE_WINDOW_MS: '300000', REQUEST_TIMEOUT_MS: '300000' }
    })
    const port = portOf(service.apiUrl)
    const drips = drippers(port, { from: '127.0.0.2' })
    t.teardown(async () => {
      stopAll(drips)
      await service.stop()
    })
    await waitFor(
      'three of 127.0.0.2’s uploads refused',
      () => drips.filter((d) => d.result()?.status === 429).length === 3
    )
    t.ok(
      drips.some((d) => d.result() === null),
      'one of them holds its turn'
    )
    const mine = await upload(service.apiUrl, csvOf(rows(1, 'mine')))
    t.equal(mine.status, 202, '127.0.0.1 is accepted while 127.0.0.2 drips')
    const third = slowUpload(port, {
      body: multipartBody('third', csvOf(rows(1, 'third'))),
      everyMs: 10,
      chunk: 4096,
      from: '127.0.0.3'
    })
    t.equal((await third.done).status, 202, 'and so is 127.0.0.3')
    t.ok(
      drips.some((d) => d.result() === null),
      `while 127.0.0.2 still drips (${JSON.stringify(drips.map((d) => d.result()?.reply.split('\r\n')[0] ?? 'open'))})`
    )
  }
)

t.test('a tenant with no quota left is refused before its body is read, and takes no turn', async (t) => {
  const service = await startService({
    workers: 0,
    env: {
      API_KEYS: 'key-a,key-b,key-c',
      QUOTA_REQUESTS_PER_HOUR: '2',
      QUOTA_IMAGES_PER_DAY: '2000',
      MAX_CONCURRENT_UPLOADS: '1'
    }
  })
  const port = portOf(service.apiUrl)
  const holding: SlowUpload[] = []
  t.teardown(async () => {
    stopAll(holding)
    await service.stop()
  })
  // key-a spends its images for the day, key-b its uploads for the hour.
  t.equal((await upload(service.apiUrl, csvOf(rows(2000, 'a')), {}, auth('key-a'))).status, 202)
  t.equal((await upload(service.apiUrl, csvOf(rows(1, 'b1')), {}, auth('key-b'))).status, 202)
  t.equal((await upload(service.apiUrl, csvOf(rows(1, 'b2')), {}, auth('key-b'))).status, 202)

  // key-c, with quota, holds the one upload turn (MAX_CONCURRENT_UPLOADS 1) on a slow but steady link.
  holding.push(
    slowUpload(port, {
      body: multipartBody('c', csvOf(rows(1400, 'c'))),
      everyMs: 125,
      chunk: 512,
      headers: auth('key-c')
    })
  )
  await waitFor('key-c to be reading', () => holding[0]!.sent() > 4096)

  // Headers only, announcing a 50 kB body that is never sent: the answer cannot wait for it.
  const headersOnly = (key: string) =>
    slowUpload(port, { body: multipartBody('q', csvOf(rows(1400, key))), everyMs: 0, chunk: 0, headers: auth(key) })
  const uploads = [headersOnly('key-a'), headersOnly('key-b')]
  t.teardown(() => stopAll(uploads))
  const [a, b] = await Promise.all(
    uploads.map((u) => Promise.race([u.done, new Promise((ok) => setTimeout(ok, 5000))]))
  )
  for (const [name, r, message] of [
    ['key-a', a, /the budget of 2000 images per day is used up \(QUOTA_IMAGES_PER_DAY\)/],
    ['key-b', b, /at most 2 uploads per hour \(QUOTA_REQUESTS_PER_HOUR\)/]
  ] as const) {
    const result = r as Awaited<SlowUpload['done']> | undefined
    t.ok(result, `${name} is answered within 5 s without sending its body`)
    t.equal(result?.status, 429, name)
    t.equal(result?.bodySentBeforeAnswer, 0, `${name}: answered before a byte of the body was sent`)
    t.ok(
      result!.answeredAfterMs! < 1500,
      `${name}: at once (${result!.answeredAfterMs} ms), not after waiting for a turn`
    )
    t.match(replyJson(result!.reply).message, message)
    t.ok(Number(/\r\nretry-after: (\d+)\r\n/i.exec(result!.reply)?.[1]) >= 1, 'with Retry-After')
  }
  t.equal((await holding[0]!.done).status, 202, 'key-c, reading meanwhile, is accepted')
})
