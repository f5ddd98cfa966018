/**
 * The sampled scorer: a large image's score from its coarse scales whole and its fine scales on one window per
 * cell, against the whole-image metric; the windows follow the errors and are kept for nearby qualities.
 */

import { readFileSync } from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'
import t from 'tap'
import { SAMPLED_MIN_SIDE, sampledScorer, ssimulacra2 } from '../src/index.ts'
import { corpus, distort, rgb } from './images.ts'

// The search leaves a margin of 2 points above the floor for a sampled score (more for transparent images).
t.test('never more optimistic than 2 points, at most 7 pessimistic, and 100 for the image itself', async (t) => {
  for (const name of ['flowers.jpeg', 'sdr_cosmos12920_cicp1-13-6_yuv444_full_qp10.avif']) {
    const reference = await rgb(sharp(readFileSync(path.join(corpus, name))))
    const scorer = sampledScorer(reference)
    t.equal(scorer(reference, 50), 100, `${name}: identical`)
    for (const [format, quality] of [
      ['jpeg', 30],
      ['jpeg', 70],
      ['webp', 50]
    ] as const) {
      const distorted = await distort(reference, format, quality)
      const [sampled, whole] = [scorer(distorted, quality), ssimulacra2(reference, distorted)]
      t.ok(
        sampled - whole <= 2 && sampled - whole >= -7,
        `${name} ${format} q${quality}: sampled ${sampled.toFixed(2)}, whole ${whole.toFixed(2)}`
      )
    }
    scorer.release()
  }
})

t.test('the windows chosen by one image are kept within 10 qualities of it, and chosen again beyond', async (t) => {
  const reference = await rgb(sharp(readFileSync(path.join(corpus, 'flowers.jpeg'))))
  const [coarse, fine] = [await distort(reference, 'jpeg', 20), await distort(reference, 'jpeg', 85)]
  const fresh = sampledScorer(reference)
  const own = fresh(fine, 85)
  fresh.release()
  const kept = sampledScorer(reference)
  // The q20 output scored as if made at quality 75: its errors choose the windows.
  kept(coarse, 75)
  const onKept = kept(fine, 85)
  t.not(
    onKept,
    own,
    `within 10: scored on the windows the q20's errors chose (${onKept.toFixed(3)} vs ${own.toFixed(3)})`
  )
  t.equal(kept(fine, 65), onKept, 'the same windows again, 10 below')
  const rechosen = kept(fine, 96)
  kept.release()
  const again = sampledScorer(reference)
  t.equal(rechosen, again(fine, 96), 'beyond 10: windows chosen by its own errors')
  again.release()
})

t.test('only for images with both sides of at least 256 pixels; released, it scores no more', async (t) => {
  const thin = { data: new Uint8Array(1024 * 255 * 3), width: 1024, height: 255 }
  t.throws(() => sampledScorer(thin), RangeError)
  const image = { data: new Uint8Array(SAMPLED_MIN_SIDE * SAMPLED_MIN_SIDE * 3), width: 256, height: 256 }
  const scorer = sampledScorer(image)
  t.equal(scorer(image, 50), 100)
  scorer.release()
  scorer.release()
  t.throws(() => scorer(image, 50), /released/)
})
