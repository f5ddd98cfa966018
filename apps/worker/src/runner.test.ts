import { once } from 'node:events'
import { createMetrics, type JobKind } from '@imgproc/core'
import { StorageError, StorageHealth } from '@imgproc/storage'
import pino from 'pino'
import t from 'tap'
import { MemoryQueue } from '../../../test/support/memory-queue.ts'
import { waitFor } from '../../../test/support/wait.ts'
import { handBackDelayMs } from './claim.ts'
import { type JobContext, JobTakenOver, type Outcome, type Processor } from './jobs/contract.ts'
import { Runner, type RunnerOptions } from './runner.ts'

// The runner against a queue in memory with the MongoDB queue's interface (that one has its own spec on a real
// mongod): what it claims, what a run may write, and the one write that ends each claim.
const log = pino({ level: 'silent' })

async function started(queue: MemoryQueue, processors: Processor[], options: Partial<RunnerOptions> = {}) {
  const runner = new Runner(queue, processors, {
    owner: 'w1',
    leaseMs: 30_000,
    maxClaims: 3,
    pollMs: 20,
    maxIdleMs: 60_000,
    log,
    metrics: createMetrics('worker'),
    ...options
  })
  await runner.start()
  t.teardown(() => runner.close())
  return runner
}

/** A processor whose runs are `run`; `exhausted` fails the job with the runner's reason unless given. */
function processor(
  kind: JobKind,
  run: (ctx: JobContext<Record<string, unknown>>) => Promise<Outcome>,
  extra: Partial<Processor> = {}
): Processor {
  return {
    kind,
    concurrency: 1,
    process: run,
    exhausted: async (_ctx, reason) => ({ kind: 'failed', reason }),
    ...extra
  }
}

const ended = (queue: MemoryQueue, key: string) => () => ['done', 'failed'].includes(queue.get(key).state)

t.test('claims while a kind has a free slot, and only then', async (t) => {
  const queue = new MemoryQueue()
  const running = { images: 0, webhook: 0 }
  const peak = { images: 0, webhook: 0 }
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const slow = (kind: 'images' | 'webhook', concurrency: number) =>
    processor(
      kind,
      async () => {
        peak[kind] = Math.max(peak[kind], ++running[kind])
        await gate
        running[kind]--
        return { kind: 'done' }
      },
      { concurrency }
    )
  for (let i = 0; i < 5; i++) queue.add({ kind: 'images', key: `u${i}`, data: {} })
  for (let i = 0; i < 3; i++) queue.add({ kind: 'webhook', key: `h${i}`, data: {} })
  await started(queue, [slow('images', 2), slow('webhook', 1)])
  await waitFor('both kinds at their limit', () => running.images === 2 && running.webhook === 1)
  await new Promise((r) => setTimeout(r, 200))
  const states = (prefix: string) =>
    [...queue.jobs.values()].filter((j) => j.key.startsWith(prefix)).map((j) => j.state)
  t.same(states('u').sort(), ['pending', 'pending', 'pending', 'running', 'running'], 'two units, the rest wait')
  t.same(states('h').sort(), ['pending', 'pending', 'running'], 'a full kind does not keep the other waiting')
  open()
  await waitFor('every job done', () => [...queue.jobs.values()].every((j) => j.state === 'done'))
  t.same(peak, { images: 2, webhook: 1 }, 'never more than the slots of a kind')
})

t.test('an idle runner is woken by new work, not by polling', async (t) => {
  const queue = new MemoryQueue()
  await started(queue, [processor('images', async () => ({ kind: 'done' }))], { pollMs: 60_000 })
  await new Promise((r) => setTimeout(r, 100)) // idle now, sleeping for up to a minute
  const added = Date.now()
  queue.add({ kind: 'images', key: 'u', data: {} })
  await waitFor('the job done', ended(queue, 'u'), 5000, 10)
  t.ok(Date.now() - added < 2000, `claimed ${Date.now() - added} ms after it was added`)
})

t.test('a lost lease aborts the run, and the run writes nothing more', async (t) => {
  const queue = new MemoryQueue()
  let save: unknown
  let finished!: () => void
  const over = new Promise<void>((r) => (finished = r))
  queue.add({ kind: 'images', key: 'u', data: {} })
  await started(
    queue,
    [
      processor('images', async (ctx) => {
        await ctx.save({ step: 1 })
        queue.takeOver('u') // its lease ran out and another worker claimed it
        await once(ctx.signal, 'abort') // the next heartbeat finds out
        save = await ctx.save({ step: 2 }).catch((err: unknown) => err)
        finished()
        return { kind: 'done', record: { step: 3 } }
      })
    ],
    { leaseMs: 300 }
  )
  await over
  await new Promise((r) => setTimeout(r, 100))
  t.ok(save instanceof JobTakenOver, 'a save after the loss throws JobTakenOver')
  t.same(
    queue.writes.map((w) => [w.op, w.patch]),
    [['save', { step: 1 }]],
    'only the write made while the lease was held'
  )
  t.match(queue.get('u'), { state: 'running', owner: 'thief', data: { step: 1 } }, 'the new holder’s job, untouched')
})

t.test('each outcome is one write that ends the claim', async (t) => {
  const queue = new MemoryQueue()
  const later = new Date(Date.now() + 60_000)
  const outcomes: Record<string, Outcome[]> = {
    done: [{ kind: 'done', record: { a: 1 } }],
    retry: [{ kind: 'retry', at: later, record: { b: 2 } }],
    failed: [{ kind: 'failed', reason: 'because', record: { c: 3 } }],
    released: [{ kind: 'released' }, { kind: 'done' }],
    arrives: [{ kind: 'done', record: { d: 4 }, arrive: { barrier: 'finish', part: 0 } }]
  }
  queue.add({ kind: 'finish', key: 'finish', data: {}, waitFor: 1 })
  for (const key of Object.keys(outcomes)) queue.add({ kind: 'images', key, data: { key } })
  await started(queue, [
    processor('images', async (ctx) => outcomes[ctx.data.key as string]!.shift()!, { concurrency: 5 }),
    processor('finish', async () => ({ kind: 'done' }))
  ])
  await waitFor('every outcome written', () =>
    ['done', 'failed', 'arrives', 'released', 'finish'].every((k) => ended(queue, k)())
  )
  await waitFor('the retry', () => queue.writes.some((w) => w.key === 'retry'))
  const writes = (key: string) => queue.writes.filter((w) => w.key === key).map((w) => [w.op, w.patch])
  t.same(writes('done'), [['complete', { a: 1 }]])
  t.match(queue.get('done'), { state: 'done', finished_by: 'w1', data: { a: 1 } })
  t.same(writes('retry'), [['release', { b: 2 }]])
  t.match(queue.get('retry'), { state: 'pending', due_at: later, claims: 0, data: { b: 2 } }, 'not a crash')
  t.same(writes('failed'), [['fail', { c: 3 }]])
  t.match(queue.get('failed'), { state: 'failed', error: 'because', data: { c: 3 } })
  t.same(
    writes('released'),
    [
      ['release', {}],
      ['complete', {}]
    ],
    'handed back, then run again'
  )
  t.equal(queue.get('released').claims, 1, 'a hand-back gives its claim back')
  t.same(
    queue.writes.filter((w) => w.key === 'arrives' || w.key === 'finish').map((w) => [w.op, w.key]),
    [
      ['save', 'arrives'],
      ['arrive', 'finish'],
      ['complete', 'arrives'],
      ['complete', 'finish']
    ],
    'with an arrival: the record lands fenced, then the barrier hears of it, then the job ends'
  )
  t.match(queue.get('arrives'), { state: 'done', data: { d: 4 } })
})

t.test('an outage hands the job back without counting a crash; a bug leaves the lease to run out', async (t) => {
  const queue = new MemoryQueue()
  const errors: Record<string, Error> = {
    storage: new StorageError('unreachable', 'the bucket is away'),
    database: Object.assign(new Error('connection 3 to 127.0.0.1:27017 closed'), { name: 'MongoNetworkError' }),
    bug: new TypeError('undefined is not a function')
  }
  for (const key of Object.keys(errors)) queue.add({ kind: 'images', key, data: { key } })
  const before = Date.now()
  await started(
    queue,
    [
      processor(
        'images',
        async (ctx) => {
          throw errors[ctx.data.key as string]
        },
        { concurrency: 3 }
      )
    ],
    { pollMs: 20 }
  )
  await waitFor('the outages handed back', () => queue.writes.length === 2)
  for (const key of ['storage', 'database']) {
    const job = queue.get(key)
    t.match(job, { state: 'pending', claims: 0, owner: null }, `${key}: handed back, no claim counted`)
    t.ok(job.due_at!.getTime() >= before + 5000, `${key}: for later, not at once`)
  }
  t.match(queue.get('bug'), { state: 'running', owner: 'w1', claims: 1 }, 'a bug writes nothing: the lease runs out')
})

t.test('a job whose runs kept dying is exhausted; a run after a crash is told it resumes', async (t) => {
  const queue = new MemoryQueue()
  for (const key of ['dies', 'fresh', 'once']) queue.add({ kind: 'images', key, data: { key } })
  queue.get('dies').claims = 3 // three runs died (MAX_CLAIMS=3): the next claim is the fourth
  queue.get('once').claims = 1
  const seen: Record<string, boolean> = {}
  const exhausted: string[] = []
  await started(queue, [
    processor(
      'images',
      async (ctx) => {
        seen[ctx.data.key as string] = ctx.resumed
        return { kind: 'done' }
      },
      {
        concurrency: 3,
        exhausted: async (ctx, reason) => {
          exhausted.push(reason)
          return { kind: 'failed', reason, record: { given_up: ctx.resumed } }
        }
      }
    )
  ])
  await waitFor('every job ended', () => ['dies', 'fresh', 'once'].every((k) => ended(queue, k)()))
  t.same(exhausted, ['abandoned: processing was interrupted 3 times (MAX_CLAIMS=3)'], 'exhausted, not run again')
  t.match(queue.get('dies'), { state: 'failed', error: /interrupted 3 times/, data: { given_up: true } })
  t.same(seen, { fresh: false, once: true }, 'resumed only where an earlier run died')
})

t.test('closing: running jobs see the shutdown and hand back their work', async (t) => {
  const queue = new MemoryQueue()
  queue.add({ kind: 'images', key: 'u', data: {} })
  let inside!: () => void
  const running = new Promise<void>((r) => (inside = r))
  const runner = await started(queue, [
    processor('images', async (ctx) => {
      inside()
      await once(ctx.signal, 'abort')
      return ctx.shuttingDown() ? { kind: 'released' } : { kind: 'done' }
    })
  ])
  await running
  await runner.close()
  t.match(queue.get('u'), { state: 'pending', claims: 0, owner: null }, 'back in the queue, no claim counted')
  t.same(
    queue.writes.map((w) => w.op),
    ['release']
  )
})

t.test(
  'work handed back by a storage outage waits as long as the outage has lasted, from 5 s up to a minute',
  async (t) => {
    const health = new StorageHealth()
    const outage = new StorageError('full', 'no space left')
    const start = Date.now()
    health.failed(outage, { write: true }, new Date(start))
    t.equal(handBackDelayMs(outage, health, 100, start + 1000), 5000, 'a new outage: the usual pause')
    t.equal(handBackDelayMs(outage, health, 100, start + 20_000), 20_000, 'twenty seconds in: twenty more')
    t.equal(handBackDelayMs(outage, health, 100, start + 600_000), 60_000, 'never more than a minute')
    t.equal(handBackDelayMs(outage, health, 2000, start + 1000), 20_000, 'at least ten polls')
    const database = Object.assign(new Error('connection closed'), { name: 'MongoNetworkError' })
    t.equal(handBackDelayMs(database, health, 100, start + 20_000), 5000, 'a database outage: the usual pause')
    health.succeeded({ write: true })
    t.equal(handBackDelayMs(outage, health, 100, start + 20_000), 5000, 'once it works again, back to the usual pause')
  }
)
