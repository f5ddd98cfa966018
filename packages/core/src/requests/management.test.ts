import t from 'tap'
import { cancelRefusal, isFinal, requeued, retryPlan } from './management.ts'
import type { ImageRecord } from './records.ts'

const ID = '3f1c2a4e-8b7d-4c6e-9a0f-1d2e3f4a5b6c'
const image = (status: ImageRecord['status'], n = 0): ImageRecord => ({
  url: `https://a.example/${n}.jpg`,
  status,
  ...(status === 'succeeded' ? { output_file: `${ID}/${n}.jpg`, bytes_in: 10, bytes_out: 5 } : {}),
  ...(status === 'failed' ? { error: 'HTTP 404', error_kind: 'http_4xx' } : {})
})

t.test('final statuses, and which requests can be cancelled', async (t) => {
  t.same(['Pending', 'Processing', 'Completed', 'Failed', 'Cancelled'].map(isFinal), [false, false, true, true, true])
  t.equal(cancelRefusal({ request_id: ID, status: 'Processing' }), null)
  t.equal(cancelRefusal({ request_id: ID, status: 'Pending' }), null)
  t.match(cancelRefusal({ request_id: ID, status: 'Completed' }), `request ${ID} is Completed: only a Pending`)
  t.match(cancelRefusal({ request_id: ID, status: 'Processing', retrying: [1] }), /a retry is being set up/)
})

t.test('a retry re-queues failed and never done images, per unit; refusals say why', async (t) => {
  const units = [
    { n: 0, images: [image('succeeded'), image('failed')] },
    { n: 1, images: [image('succeeded'), image('succeeded')] },
    { n: 2, images: [image('pending'), image('failed')] }
  ]
  const done = { request_id: ID, status: 'Completed' as const, output_csv: 'x' }
  t.same(retryPlan(done, units), {
    units: [
      { n: 0, slots: [1] },
      { n: 2, slots: [0, 1] }
    ],
    images: 3
  })
  t.match(retryPlan({ ...done, status: 'Processing' }, units), { refusal: /is still Processing/ })
  t.match(retryPlan({ ...done, status: 'Pending' }, units), { refusal: /is still Pending/ })
  t.match(retryPlan({ request_id: ID, status: 'Cancelled' }, units), { refusal: /is being cancelled/ })
  t.match(retryPlan({ ...done, status: 'Cancelled' }, units), { images: 3 })
  t.match(retryPlan(done, [units[1]!]), { refusal: /has no failed images: there is nothing to retry/ })
})

t.test('requeued: only the named slots become pending, with nothing of the failed run', async (t) => {
  const images = [image('succeeded', 0), image('failed', 1), image('failed', 2)]
  t.same(requeued(images, [1]), [images[0], { url: images[1]!.url, status: 'pending' }, images[2]])
})
