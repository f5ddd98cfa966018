// Issue 30, item 6: an upload leaves all or nothing. The API (a real process) is killed at exact moments of a
// request's creation, held there by injected gates (test/support/gated-api.ts; the product has no such hooks).
import t, { type Test } from 'tap'

import { csvOf } from './support/csv.ts'
import { startMongod } from './support/database.ts'
import { GATED_API, type GateCall, startGates } from './support/gates.ts'
import { startImageServer } from './support/servers.ts'
import { type Service, startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

const STAGING_MS = 2000

const images = await startImageServer()
t.teardown(() => images.close())
// 30 products in units of 25: two units, a finisher, product pages.
const csv = (tag: string) =>
  csvOf(Array.from({ length: 30 }, (_, i) => [i + 1, `P${i}`, [`${images.url}/img/rocket.jpg?${tag}${i}`]]))

/** Everything stored under a request id, whatever its state: what a sweep must leave empty. */
async function leftovers(service: Service, id: string) {
  return {
    request: await service.db.collection('requests').findOne({ request_id: id }, { projection: { status: 1 } }),
    jobs: (await service.store.queue.ofRequest(id)).map((j) => `${j.kind}:${j.state}`).sort(),
    pages: await service.db.collection('request_products').countDocuments({ request_id: id })
  }
}

/** Uploads through the gated API and kills it when its creation reaches `gate`; the request id it was creating. */
async function killAt(
  t: Test,
  service: Service,
  calls: GateCall[],
  gate: GateCall['gate'],
  tag: string
): Promise<string> {
  const seen = calls.length
  const answer = upload(service.apiUrl, csv(tag)).then(
    (r) => r.status,
    () => 'no answer'
  )
  const call = await waitFor(`the API at ${gate}`, () => calls.slice(seen).find((c) => c.gate === gate), 60_000)
  service.api.child.kill('SIGKILL')
  await service.api.exited
  t.equal(await answer, 'no answer', 'the upload was never answered')
  return call.requestId
}

for (const mode of ['replica set', 'standalone'] as const)
  t.test(`${mode}: an API killed mid-creation leaves nothing visible, and nothing that is never settled`, async (t) => {
    const mongod = mode === 'standalone' ? await startMongod({ replSet: false }) : null
    let holdAt: GateCall['gate'] = 'before-commit'
    const gates = await startGates((call) => {
      if (call.gate !== holdAt) call.pass()
    })
    const service = await startService({
      workers: 1,
      apiScript: GATED_API,
      env: {
        ...gates.env,
        UPLOAD_STAGING_TIMEOUT_MS: String(STAGING_MS),
        ...(mongod ? { MONGODB_URI: mongod.uri } : {})
      },
      ...(mongod ? { mongoUri: mongod.uri } : {})
    })
    t.teardown(async () => {
      await service.stop()
      await gates.close()
      await mongod?.kill()
    })

    // 1. Killed with everything written but the commit: staged, never seen, then removed by the sweep.
    const staged = await killAt(t, service, gates.calls, 'before-commit', 'staged')
    const written = await leftovers(service, staged)
    t.equal(written.request?.status, 'Staging', 'the dead upload wrote its request, staged,')
    t.same(written.jobs, ['finish:waiting', 'images:held', 'images:held'], 'its finisher and its units, held,')
    t.equal(written.pages, 1, 'and its product page')
    const killedAt = Date.now()
    await service.restartApi(GATED_API)
    const restartMs = Date.now() - killedAt
    const status = await fetch(`${service.apiUrl}/status/${staged}`)
    t.equal(status.status, 404, 'the staged request is not visible on /status')
    t.match(
      await (await fetch(`${service.apiUrl}/metrics`)).text(),
      /imgproc_requests\{status="Pending",app="api"\} 0\n/
    )
    await waitFor(
      'the sweep to remove the staged request',
      async () => {
        const left = await leftovers(service, staged)
        return !left.request && left.jobs.length === 0 && left.pages === 0
      },
      30_000
    )
    const settledMs = Date.now() - killedAt
    t.ok(
      settledMs < Math.max(restartMs, STAGING_MS) + STAGING_MS,
      `removed ${settledMs} ms after the API died (it took ${restartMs} ms to start again; UPLOAD_STAGING_TIMEOUT_MS ${STAGING_MS})`
    )
    t.match(
      await (await fetch(`${service.apiUrl}/metrics`)).text(),
      /imgproc_creations_settled_total\{outcome="discarded",app="api"\} 1\n/
    )

    // 2. Killed after the commit, before the units were released: visible and Pending, then released and done.
    holdAt = 'before-release'
    const committed = await killAt(t, service, gates.calls, 'before-release', 'committed')
    t.same(
      (await leftovers(service, committed)).jobs,
      ['finish:waiting', 'images:held', 'images:held'],
      'committed, its units still held'
    )
    holdAt = 'before-finish' // no gate of that name in the API: nothing is held any more
    await service.restartApi(GATED_API)
    const visible = await fetch(`${service.apiUrl}/status/${committed}`)
    t.equal(visible.status, 200, 'a committed request is visible')
    // Pending, or already Processing: the restarted API's first sweep may have released the units by now.
    t.match(await visible.json(), { status: /^(Pending|Processing)$/, counts: { total: 30 } })
    const done = await waitForStatus(service, committed, ['Completed'], 60_000)
    t.same(done.counts, { total: 30, succeeded: 30, failed: 0, pending: 0 }, 'its units were released and processed')

    // 3. An upload through the same API, uninterrupted: accepted and completed as ever.
    const whole = await upload(service.apiUrl, csv('whole'))
    t.equal(whole.status, 202)
    t.equal((await waitForStatus(service, whole.body.request_id, ['Completed'], 60_000)).counts.succeeded, 30)
  })
