import { randomUUID } from 'node:crypto'
import { imagesRecorded, type ManagementPauses, type RequestStore, unitArrival } from '@imgproc/core'
import t from 'tap'
import { csvOf, ERROR_KEYS, multipart, specApp } from '../../test/spec-app.ts'

type App = Awaited<ReturnType<typeof specApp>>['app']

async function uploaded(app: App, images: number, headers: Record<string, string> = {}): Promise<string> {
  const rows = Array.from({ length: images }, (_, i): [number, string, string[]] => [
    i + 1,
    `SKU${i + 1}`,
    [`https://a.example/${randomUUID()}.jpg`]
  ])
  const body = await multipart({ file: { csv: csvOf(rows) } })
  const res = await app.inject({ method: 'POST', url: '/upload', ...body, headers: { ...body.headers, ...headers } })
  if (res.statusCode !== 202) throw new Error(`upload refused: ${res.body}`)
  return res.json().request_id
}

/**
 * Works every unit of a request as a worker would (claim, record, arrive) with `outcome(i)` for image i, then
 * completes the request as its finisher would. No image is downloaded: the records say what happened.
 */
async function worked(requests: RequestStore, id: string, outcome: (i: number) => 'succeeded' | 'failed') {
  for (;;) {
    const lease = await requests.queue.claim<{ n: number; first: number; images: { url: string }[] }>(
      'spec',
      ['images'],
      60_000
    )
    if (!lease) break
    const { n, first, images } = lease.job.data
    const records = images.map((image, slot) =>
      outcome(first + slot) === 'succeeded'
        ? { url: image.url, status: 'succeeded' as const, output_file: `${id}/${first + slot}.jpg` }
        : { url: image.url, status: 'failed' as const, error: 'HTTP 404', error_kind: 'http' }
    )
    await requests.queue.complete(
      lease,
      imagesRecorded(
        records,
        records.map((_, slot) => slot)
      )
    )
    await requests.queue.arrive(unitArrival(id, n))
  }
  const doc = (await requests.find(id))!
  await requests.finish(id, { status: 'Completed', images: await requests.unitsSummary(doc), output_csv: 'x' })
  // Its finisher (and any other due one: a spec's database holds a few requests) has run.
  for (let finisher = await requests.queue.claim('spec', ['finish'], 60_000); finisher; ) {
    await requests.queue.complete(finisher)
    finisher = await requests.queue.claim('spec', ['finish'], 60_000)
  }
}

const post = (app: App, id: string, action: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: `/requests/${id}/${action}`, headers })

t.test('list: newest first, a page at a time, with a cursor to the next; a bad cursor or limit is a 400', async (t) => {
  const { app } = await specApp(t)
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(await uploaded(app, i + 1))
  const seen: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res: { statusCode: number; json(): { items: { request_id: string }[]; next_cursor: string | null } } =
      await app.inject(`/requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
    t.equal(res.statusCode, 200)
    const body = res.json()
    t.ok(body.items.length <= 2)
    seen.push(...body.items.map((i) => i.request_id))
    cursor = body.next_cursor
    pages++
  } while (cursor)
  t.equal(pages, 3)
  t.same(seen, [...ids].reverse(), 'every request once, newest first')
  t.match((await app.inject('/requests')).json().items[0], {
    request_id: ids[4],
    status: 'Pending',
    completed_at: null,
    counts: { total: 5, succeeded: 0, failed: 0, pending: 5 }
  })
  for (const bad of ['limit=0', 'limit=101', 'cursor=nonsense', `cursor=${Buffer.from('1:x').toString('base64url')}`]) {
    const res = await app.inject(`/requests?${bad}`)
    t.equal(res.statusCode, 400, bad)
    t.same(Object.keys(res.json()).sort(), ERROR_KEYS)
  }
})

t.test('list: a request still being created never shows', async (t) => {
  let commit!: () => void
  const held = new Promise<void>((r) => (commit = r))
  let reached!: () => void
  const atCommit = new Promise<void>((r) => (reached = r))
  const { app } = await specApp(
    t,
    {},
    {
      creationPauses: {
        beforeCommit: async () => {
          reached()
          await held
        }
      }
    }
  )
  const upload = uploaded(app, 1)
  await atCommit
  t.same((await app.inject('/requests')).json().items, [], 'Staging: not listed')
  commit()
  const id = await upload
  t.same(
    (await app.inject('/requests')).json().items.map((i: { request_id: string }) => i.request_id),
    [id]
  )
})

t.test('with API keys: each key lists, cancels and retries only its own requests', async (t) => {
  const { app } = await specApp(t, { API_KEYS: 'key-a,key-b' })
  const a = { authorization: 'Bearer key-a' }
  const b = { authorization: 'Bearer key-b' }
  const mine = [await uploaded(app, 1, a), await uploaded(app, 1, a)]
  const theirs = await uploaded(app, 1, b)
  const list = async (headers: Record<string, string>) =>
    (await app.inject({ url: '/requests', headers })).json().items.map((i: { request_id: string }) => i.request_id)
  t.same(await list(a), [...mine].reverse())
  t.same(await list(b), [theirs])
  t.equal((await app.inject('/requests')).statusCode, 401, 'no key')
  for (const action of ['cancel', 'retry']) {
    const other = await post(app, mine[0]!, action, b)
    const unknown = await post(app, randomUUID(), action, a)
    t.equal(other.statusCode, 404, `${action}: another key's request`)
    t.equal(unknown.statusCode, 404, `${action}: unknown`)
    t.equal(other.json().message.replace(mine[0], '<id>'), unknown.json().message.replace(/[0-9a-f-]{36}/, '<id>'))
    t.equal((await post(app, mine[0]!, action)).statusCode, 401, `${action}: no key`)
    t.equal((await post(app, 'not-a-uuid', action, a)).statusCode, 400, `${action}: malformed id`)
  }
  t.equal((await post(app, mine[0]!, 'cancel', a)).statusCode, 202, 'the owner may')
})

t.test('cancel: Cancelled at once, its units never claimed; a second cancel is a 409', async (t) => {
  const { app, requests } = await specApp(t, { WORK_UNIT_SIZE: '2' })
  const id = await uploaded(app, 5)
  const res = await post(app, id, 'cancel')
  t.equal(res.statusCode, 202)
  t.match(res.json(), { request_id: id, status: 'Cancelled', counts: { total: 5, pending: 5 } })
  t.ok(res.json().completed_at)
  t.equal(await requests.queue.claim('spec', ['images'], 60_000), null, 'no unit can be claimed')
  t.equal((await requests.jobs.finisher(id))?.state, 'pending', 'its finisher is due, to write what was done')
  const again = await post(app, id, 'cancel')
  t.equal(again.statusCode, 409)
  t.match(again.json(), { error: 'Conflict', message: /is Cancelled: only a Pending or Processing request/ })
  const retry = await post(app, id, 'retry')
  t.equal(retry.statusCode, 409, 'no retry until the cancellation is wound up')
  t.match(retry.json().message, /being cancelled/)
})

t.test(
  'retry: only failed images are re-queued, in the same request; 409s while running or with none failed',
  async (t) => {
    const { app, requests } = await specApp(t, { WORK_UNIT_SIZE: '2' })
    const id = await uploaded(app, 5)
    const running = await post(app, id, 'retry')
    t.equal(running.statusCode, 409)
    t.match(running.json().message, /still Pending/)
    await worked(requests, id, (i) => (i === 1 || i === 4 ? 'failed' : 'succeeded'))
    t.equal((await post(app, id, 'cancel')).statusCode, 409, 'a Completed request cannot be cancelled')
    const res = await post(app, id, 'retry')
    t.equal(res.statusCode, 202)
    t.match(res.json(), {
      request_id: id,
      status: 'Processing',
      completed_at: null,
      counts: { succeeded: 3, pending: 2 }
    })
    const units = await requests.jobs.units(id)
    t.same(
      units.map((u) => [u.state, u.data.images.map((i) => i.status)]),
      [
        ['pending', ['succeeded', 'pending']],
        ['done', ['succeeded', 'succeeded']],
        ['pending', ['pending']]
      ]
    )
    t.match(await requests.jobs.finisher(id), { state: 'waiting', barrier: { needed: 2, arrived: [] } })
    t.equal((await post(app, id, 'retry')).statusCode, 409, 'a second retry while the first runs')

    const clean = await uploaded(app, 2)
    await worked(requests, clean, () => 'succeeded')
    const none = await post(app, clean, 'retry')
    t.equal(none.statusCode, 409)
    t.match(none.json().message, /no failed images: there is nothing to retry/)
  }
)

t.test('retry: the re-queued images take the daily image budget', async (t) => {
  const { app, requests } = await specApp(t, { QUOTA_IMAGES_PER_DAY: '6' })
  const id = await uploaded(app, 4)
  await worked(requests, id, () => 'failed')
  const res = await post(app, id, 'retry')
  t.equal(res.statusCode, 429, '4 + 4 images would pass 6 a day')
  t.ok(res.headers['retry-after'])
  t.equal((await requests.find(id))?.status, 'Completed', 'nothing changed')
})

t.test('an API that dies inside a cancel or a retry: the sweep carries it out', async (t) => {
  const { app, requests } = await specApp(t, { WORK_UNIT_SIZE: '2' })
  const died = async () => {
    throw new Error('the API died here')
  }
  const later = new Date(Date.now() + 60_000)

  const cancelled = await uploaded(app, 3)
  await t.rejects(requests.management.cancel(cancelled, { afterCancel: died }))
  t.equal((await requests.find(cancelled))?.status, 'Cancelled')
  t.same(
    (await requests.jobs.units(cancelled)).map((u) => u.state),
    ['pending', 'pending'],
    'its units were not cancelled yet'
  )
  await requests.management.settleInterrupted(later)
  t.same(
    (await requests.jobs.units(cancelled)).map((u) => u.state),
    ['cancelled', 'cancelled']
  )
  t.equal((await requests.jobs.finisher(cancelled))?.state, 'pending')

  const retried = await uploaded(app, 3)
  await worked(requests, retried, (i) => (i === 2 ? 'failed' : 'succeeded'))
  const doc = (await requests.find(retried))!
  const plan = { units: [{ n: 1, slots: [0] }], images: 1 }
  await t.rejects(requests.management.retry(doc, plan, { afterRetry: died }))
  t.match(await requests.find(retried), { status: 'Processing', round: 1, retrying: [1] })
  t.same(
    await requests.management.settleInterrupted(new Date(Date.now() - 60_000)),
    { cancels: 0, retries: 0 },
    'not before the cutoff'
  )
  t.match(await requests.management.settleInterrupted(later), { retries: 1 })
  t.same(
    (await requests.jobs.units(retried)).map((u) => [u.state, u.data.images.map((i) => i.status)]),
    [
      ['done', ['succeeded', 'succeeded']],
      ['pending', ['pending']]
    ]
  )
  t.match(await requests.jobs.finisher(retried), { state: 'waiting', barrier: { needed: 1, arrived: [] } })
  t.notOk((await requests.find(retried))?.retrying, 'carried out: the note is gone')
  await requests.management.settleInterrupted(later)
  t.equal((await requests.jobs.units(retried))[1]?.claims, 0, 'a second sweep changes nothing')
  t.match(await requests.jobs.finisher(retried), { state: 'waiting', barrier: { needed: 1 } })
})

t.test(
  'a cancel while a retry is being set up is a 409; once the sweep carries the retry out, it cancels',
  async (t) => {
    const { app, requests } = await specApp(t, { WORK_UNIT_SIZE: '2' })
    const id = await uploaded(app, 3)
    await worked(requests, id, (i) => (i === 2 ? 'failed' : 'succeeded'))
    const plan = { units: [{ n: 1, slots: [0] }], images: 1 }
    const died = async () => {
      throw new Error('the API died here')
    }
    await t.rejects(requests.management.retry((await requests.find(id))!, plan, { afterRetry: died }))
    t.equal((await requests.jobs.finisher(id))?.state, 'done', 'its finisher was not reopened yet')
    const refused = await post(app, id, 'cancel')
    t.equal(refused.statusCode, 409)
    t.match(refused.json().message, /a retry is being set up/)
    t.equal(await requests.management.cancel(id), false, 'the store refuses it too')
    t.equal((await requests.find(id))?.status, 'Processing')
    await requests.management.settleInterrupted(new Date(Date.now() + 60_000))
    t.equal((await post(app, id, 'cancel')).statusCode, 202, 'carried out: now it may be cancelled')
    t.equal((await requests.jobs.finisher(id))?.state, 'pending', 'its finisher is due, to wind the cancel up')
    t.same(
      (await requests.jobs.units(id)).map((u) => u.state),
      ['done', 'cancelled']
    )
  }
)

t.test('a request removed by retention right after a cancel or retry decides: a 404, not a 500', async (t) => {
  const pauses: ManagementPauses = {}
  const { app, requests } = await specApp(t, { WORK_UNIT_SIZE: '2' }, { managementPauses: pauses })
  const removed = async (id: string) => requests.remove(id)
  pauses.afterCancel = removed
  const cancelled = await uploaded(app, 2)
  const cancel = await post(app, cancelled, 'cancel')
  t.equal(cancel.statusCode, 404)
  t.same(Object.keys(cancel.json()).sort(), ERROR_KEYS)

  pauses.afterRetry = removed
  const retried = await uploaded(app, 2)
  await worked(requests, retried, () => 'failed')
  t.equal((await post(app, retried, 'retry')).statusCode, 404)
})
