import t from 'tap'
import { DEFAULT_OPTIONS } from './contracts.ts'
import {
  addTallies,
  imagesSummary,
  planRequest,
  productPagesFor,
  RequestBatches,
  tally,
  UNITS_PER_REQUEST,
  unitOf,
  unitSizeFor
} from './plan.ts'

t.test('a request is split into units of distinct images, products into pages', async (t) => {
  const urls = Array.from({ length: 7 }, (_, i) => `https://a.example/${i}.jpg`)
  const products = [
    { serial: 1, name: 'A', image_ids: [0, 1, 2] },
    { serial: 2, name: 'B', image_ids: [3, 4, 5, 6, 0] }
  ]
  const plan = planRequest('r1', { urls, products }, DEFAULT_OPTIONS, undefined, new Date(0), 3)
  t.same(
    plan.units.map((u) => [u.n, u.first, u.images.length]),
    [
      [0, 0, 3],
      [1, 3, 3],
      [2, 6, 1]
    ]
  )
  t.ok(plan.units.every((u) => u.images.every((i) => i.status === 'pending') && u.options === DEFAULT_OPTIONS))
  t.match(plan.request, {
    request_id: 'r1',
    status: 'Pending',
    units: 3,
    unit_size: 3,
    product_count: 2,
    images: { total: 7, pending: 7, succeeded: 0 }
  })
  t.same(
    plan.productPages.map((p) => p.products.length),
    [2]
  )
  t.same(unitOf(6, 3), { n: 2, slot: 0 })
  t.same(
    planRequest('r2', { urls: [], products: [] }, DEFAULT_OPTIONS, undefined, new Date(0), 3).units,
    [],
    'no images, no units'
  )
})

t.test('product pages for a window of rows', async (t) => {
  t.same(productPagesFor(0, 10, 5), [0])
  t.same(productPagesFor(498, 4, 1200), [0, 1])
  t.same(productPagesFor(1000, 100, 1000), [])
})

t.test('tallies count outcomes and bytes of succeeded images only', async (t) => {
  const a = tally([
    { url: 'x', status: 'succeeded', bytes_in: 10, bytes_out: 4, score: 72.5 },
    { url: 'y', status: 'failed', bytes_in: 7 },
    { url: 'z', status: 'pending' }
  ])
  t.same(a, { succeeded: 1, failed: 1, bytes_in: 10, bytes_out: 4, scored: 1, score_sum: 72.5, score_min: 72.5 })
  const b = tally([{ url: 'w', status: 'succeeded', bytes_in: 1, bytes_out: 1 }])
  t.same(
    b,
    { succeeded: 1, failed: 0, bytes_in: 1, bytes_out: 1, scored: 0, score_sum: 0, score_min: null },
    'fixed quality: no score'
  )
  const sum = addTallies([a, a, b])
  t.same(imagesSummary(6, sum), {
    total: 6,
    succeeded: 3,
    failed: 2,
    pending: 1,
    bytes_in: 21,
    bytes_out: 9,
    scored: 2,
    score_sum: 145,
    score_min: 72.5
  })
})

t.test('tallies count each output delivered and its verdicts, and add up across units', async (t) => {
  const compliance = (verdict: 'pass' | 'fixed' | 'fail') => ({
    profile: 'amazon',
    verdict,
    changes: [],
    problems: [],
    warnings: []
  })
  const output = (name: string, verdict?: 'pass' | 'fixed' | 'fail') => ({
    name,
    file: `r/0-${name}.jpg`,
    format: 'jpeg',
    width: 1,
    height: 1,
    bytes: 1,
    ...(verdict && { compliance: compliance(verdict) })
  })
  const a = tally([
    { url: 'x', status: 'succeeded', outputs: [output('web-480-jpeg'), output('amazon', 'fixed')] },
    { url: 'y', status: 'succeeded', outputs: [output('web-480-jpeg'), output('amazon', 'fail')] },
    { url: 'z', status: 'failed' }
  ])
  t.same(a.outputs, {
    'web-480-jpeg': { delivered: 2, pass: 0, fixed: 0, fail: 0 },
    amazon: { delivered: 2, pass: 0, fixed: 1, fail: 1 }
  })
  const b = tally([{ url: 'w', status: 'succeeded', outputs: [output('amazon', 'pass')] }])
  t.same(addTallies([a, b]).outputs!.amazon, { delivered: 3, pass: 1, fixed: 1, fail: 1 })
  t.notOk('outputs' in tally([{ url: 'v', status: 'succeeded' }]), 'absent without a set')
})

t.test('batches: full pages and units as rows arrive, the partial ones at the end', async (t) => {
  const batches = new RequestBatches('r3', 2, { options: DEFAULT_OPTIONS })
  batches.addImages(['a', 'b', 'c'])
  batches.addProduct({ serial: 1, name: 'A', image_ids: [0, 1, 2] })
  const first = batches.take()
  t.same(
    first.units.map((u) => [u.n, u.first, u.images.map((i) => i.url)]),
    [[0, 0, ['a', 'b']]]
  )
  t.same(first.productPages, [], 'a page is written once full')
  const last = batches.take(true)
  t.same(
    last.units.map((u) => [u.n, u.first, u.images.map((i) => i.url)]),
    [[1, 2, ['c']]]
  )
  t.same(
    last.productPages.map((p) => [p.n, p.products.length]),
    [[0, 1]]
  )
  t.match(batches, { products: 1, images: 3, units: 2 })
})

t.test(
  'unit size: WORK_UNIT_SIZE, larger when the upload could list more images than UNITS_PER_REQUEST units hold',
  async (t) => {
    t.equal(unitSizeFor(undefined, 25), 25, 'unknown length')
    t.equal(unitSizeFor(800_000, 25), 37, 'a 10,000-row file could list 72,728 URLs')
    t.equal(unitSizeFor(100_000, 25), 25)
    t.equal(unitSizeFor(80_000_000, 25), 1000, 'at most the largest unit')
    t.equal(unitSizeFor(80_000_000, 25) * UNITS_PER_REQUEST >= 1_000_000, true)
  }
)
