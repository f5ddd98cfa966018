import t from 'tap'
import { JobTakenOver } from './jobs/contract.ts'
import { ProgressBatcher } from './progress-batcher.ts'

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('writes as soon as maxBatch items are there, or what is there after intervalMs', async (t) => {
  const writes: number[][] = []
  const batcher = new ProgressBatcher<number>(async (items) => void writes.push(items), {
    maxBatch: 3,
    intervalMs: 300,
    onError: () => t.fail('no error')
  })
  for (const i of [1, 2, 3]) batcher.add(i)
  await wait(30)
  t.same(writes, [[1, 2, 3]], 'a full batch does not wait')
  batcher.add(4)
  await wait(30)
  t.same(writes, [[1, 2, 3]], 'one item waits for the interval')
  await wait(400)
  t.same(writes, [[1, 2, 3], [4]])
  batcher.stop()
})

t.test('a failed write keeps its batch for the next flush; flushUntilWritten retries through it', async (t) => {
  const writes: number[][] = []
  let failures = 1
  const errors: unknown[] = []
  const batcher = new ProgressBatcher<number>(
    async (items) => {
      if (failures-- > 0) throw new Error('database away')
      writes.push(items)
    },
    { maxBatch: 10, intervalMs: 1000, onError: (err) => errors.push(err) }
  )
  batcher.add(1)
  await t.rejects(batcher.flush(), /database away/)
  batcher.add(2)
  t.equal(batcher.size, 2, 'nothing finished is forgotten')
  await batcher.flushUntilWritten()
  t.same(writes, [[1, 2]])
  t.equal(errors.length, 1)
  batcher.stop()
})

t.test('once the job is taken over, nothing more is written and every flush says so', async (t) => {
  const writes: number[][] = []
  const batcher = new ProgressBatcher<number>(
    async (items) => {
      if (items.includes(2)) throw new JobTakenOver()
      writes.push(items)
    },
    { maxBatch: 10, intervalMs: 1000, onError: () => t.fail('taken over is not an error to retry') }
  )
  batcher.add(1)
  await batcher.flush()
  batcher.add(2)
  await t.rejects(batcher.flush(), JobTakenOver)
  batcher.add(3)
  await t.rejects(batcher.flushUntilWritten(), JobTakenOver, 'not retried')
  t.same(writes, [[1]])
  batcher.stop()
})
