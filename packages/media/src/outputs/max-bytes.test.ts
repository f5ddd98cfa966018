import t from 'tap'
import { bestFit, MIN_QUALITY, nextQuality, sizeStep } from './max-bytes.ts'

t.test('the quality is bisected down between the floor and the first encode', async (t) => {
  t.equal(nextQuality([{ quality: 90, bytes: 100 }], 200), null, 'already within')
  t.equal(nextQuality([{ quality: 90, bytes: 300 }], 200), MIN_QUALITY, 'the floor first')
  t.equal(
    nextQuality(
      [
        { quality: 90, bytes: 300 },
        { quality: 40, bytes: 120 }
      ],
      200
    ),
    65
  )
  const done = [
    { quality: 90, bytes: 300 },
    { quality: 40, bytes: 120 },
    { quality: 65, bytes: 190 },
    { quality: 78, bytes: 230 },
    { quality: 71, bytes: 205 },
    { quality: 68, bytes: 198 }
  ]
  t.equal(nextQuality(done, 200), null, 'within 2 of the limit')
  t.same(bestFit(done, 200), { quality: 68, bytes: 198 })
  t.equal(
    nextQuality(
      [
        { quality: 90, bytes: 300 },
        { quality: 40, bytes: 250 }
      ],
      200
    ),
    null,
    'only the size can help'
  )
  t.equal(bestFit([{ quality: 40, bytes: 250 }], 200), null)
  t.equal(nextQuality([{ quality: 30, bytes: 300 }], 200), null, 'already at or under the floor')
})

t.test('a size step scales by about the root of the excess, at least 10 %', async (t) => {
  t.ok(Math.abs(sizeStep(400, 100) - 0.475) < 1e-9)
  t.equal(sizeStep(101, 100), 0.9)
})
