import { parseQuality, QUALITY_FLOORS } from '@imgproc/core'
import t from 'tap'
import {
  bracket,
  bytesAt,
  chooseQuality,
  curveAt,
  nextFullQuality,
  nextProxyQuality,
  predictQuality,
  preferOnProxy,
  SEARCH_LIMITS,
  secondChance,
  startQuality,
  type Trial
} from './search.ts'

/** A synthetic quality→score curve that flattens towards the top, like real encoders, and its byte curve. */
const curve =
  (scale: number, shift = 0) =>
  (q: number) =>
    100 * (1 - Math.exp(-q / scale)) - 10 + shift
const syntheticBytes = (q: number) => Math.round(1000 * Math.exp(q / 25))
const trial =
  (score: (q: number) => number) =>
  (q: number): Trial => ({ quality: q, score: score(q), bytes: syntheticBytes(q) })

/** Runs the proxy stage then the full stage as auto.ts does (one setting, no second chance), on synthetic curves. */
function search(proxyCurve: (q: number) => number, fullCurve: (q: number) => number, floor: number) {
  const proxy: Trial[] = []
  for (let q = nextProxyQuality(proxy, floor); q !== null; q = nextProxyQuality(proxy, floor))
    proxy.push(trial(proxyCurve)(q))
  const full: Trial[] = []
  for (let q = nextFullQuality(proxy, full, floor); q !== null; q = nextFullQuality(proxy, full, floor))
    full.push(trial(fullCurve)(q))
  return { proxy, full, ...chooseQuality(full, floor) }
}

/** The smallest integer quality whose score reaches the floor: what an exhaustive search would deliver. */
const optimum = (score: (q: number) => number, floor: number) => {
  for (let q = 1; q <= 100; q++) if (score(q) >= floor) return q
  return null
}

t.test('parseQuality: numbers are fixed, auto means auto:good, floors 60/70/80', async (t) => {
  t.same(parseQuality(42), { kind: 'fixed', quality: 42 })
  t.same(parseQuality('auto'), { kind: 'auto', level: 'auto:good', floor: 70 })
  t.same(parseQuality('auto:eco'), { kind: 'auto', level: 'auto:eco', floor: 60 })
  t.same(parseQuality('auto:high'), { kind: 'auto', level: 'auto:high', floor: 80 })
  t.same(QUALITY_FLOORS, { 'auto:eco': 60, 'auto:good': 70, 'auto:high': 80 })
})

t.test('bracket and curveAt read the trials', async (t) => {
  const trials = [
    { quality: 40, score: 55, bytes: 1 },
    { quality: 60, score: 68, bytes: 2 },
    { quality: 80, score: 79, bytes: 3 }
  ]
  t.same(bracket(trials, 70), { below: trials[1], above: trials[2] })
  t.same(bracket(trials, 80), { below: trials[2], above: undefined })
  t.same(bracket(trials, 60), { below: trials[0], above: trials[1] })
  t.equal(curveAt(trials, 50), 61.5, 'linear between trials')
  t.equal(curveAt(trials, 10), 35.5, "below the first: the first two trials' slope")
  t.equal(curveAt(trials, 90), 84.5, "above the last: the last two trials' slope")
  t.equal(
    curveAt([trials[1]!, { quality: 70, score: 67, bytes: 2 }], 80),
    70,
    'a falling end pair extrapolates with the smallest plausible slope'
  )
  t.equal(predictQuality(trials, 61.5, 0), 50)
  t.equal(predictQuality(trials, 71.5, 0), 67)
  t.equal(predictQuality(trials, 66.5, 5), 50, 'an offset shifts the curve')
})

t.test(
  'the proxy search stops near the crossing: a trial within proxyClose of the floor, or a bracket within its tolerance',
  async (t) => {
    for (const scale of [15, 25, 40]) {
      for (const floor of Object.values(QUALITY_FLOORS)) {
        const score = curve(scale)
        const proxy: Trial[] = []
        for (let q = nextProxyQuality(proxy, floor); q !== null; q = nextProxyQuality(proxy, floor))
          proxy.push(trial(score)(q))
        const { below, above } = bracket(proxy, floor)
        const best = optimum(score, floor)
        const close = proxy.length >= 2 && proxy.some((p) => Math.abs(p.score - floor) <= SEARCH_LIMITS.proxyClose)
        t.ok(proxy.length <= 6, `scale ${scale}, floor ${floor}: ${proxy.length} proxy trials`)
        if (best === null) {
          t.equal(above, undefined, 'unreachable: nothing passes')
          t.ok(close || below!.quality === SEARCH_LIMITS.max, 'and the top was tried, or a trial came within reach')
        } else {
          t.ok(
            close || (above && below && above.quality - below.quality <= SEARCH_LIMITS.proxyTolerance),
            `scale ${scale}, floor ${floor}: stopped at ${proxy.map((p) => `${p.quality}:${p.score.toFixed(1)}`).join(' ')}`
          )
          // What it predicts from there: the crossing, within 3 qualities.
          t.ok(
            Math.abs(predictQuality(proxy, floor, 0) - best) <= 3,
            `predicts q${predictQuality(proxy, floor, 0)} for the optimum q${best}`
          )
        }
      }
    }
    t.equal(nextProxyQuality([], 70), startQuality(70), 'starts where typical photos cross the floor')
    t.equal(
      nextProxyQuality(
        [
          { quality: 75, score: 79, bytes: 1 },
          { quality: 60, score: 70.9, bytes: 1 }
        ],
        70
      ),
      null,
      'a second trial 0.9 from the floor: stop'
    )
    t.equal(
      nextProxyQuality(
        [
          { quality: 75, score: 79, bytes: 1 },
          { quality: 60, score: 72, bytes: 1 }
        ],
        70
      ),
      57,
      'still 2 above: a step down by the local slope taken 1.5× steeper (2.9, so the least step, 3), not a fixed 8'
    )
    t.equal(
      nextProxyQuality(
        [
          { quality: 75, score: 79, bytes: 1 },
          { quality: 60, score: 76.5, bytes: 1 }
        ],
        70
      ),
      39,
      '6.5 above on a flat pair (its slope held at 0.2): 21 down, not the 30 of the cap'
    )
  }
)

t.test(
  'full size: the floor holds whatever the gap to the proxy curve, near the optimum, in few encodes',
  async (t) => {
    // The full-size curve sits above or below the proxy's by up to 15 points and bends differently.
    const cases: Array<[string, (q: number) => number, (q: number) => number]> = [
      ['same curve', curve(25), curve(25)],
      ['full scores 15 lower', curve(25), curve(25, -15)],
      ['full scores 10 higher', curve(25), curve(25, 10)],
      ['full is steeper', curve(40), curve(15)],
      ['full is flatter', curve(15), curve(40)]
    ]
    for (const [name, proxyCurve, fullCurve] of cases) {
      for (const floor of Object.values(QUALITY_FLOORS)) {
        const result = search(proxyCurve, fullCurve, floor)
        const best = optimum(fullCurve, floor)
        t.ok(
          result.full.length <= SEARCH_LIMITS.fullTrials + 1,
          `${name}, floor ${floor}: ${result.full.length} full-size encodes`
        )
        if (best === null) {
          t.notOk(result.met, `${name}, floor ${floor}: unreachable, reported as not met`)
          t.equal(result.trial.score, Math.max(...result.full.map((x) => x.score)), 'delivers the best score tried')
          continue
        }
        t.ok(
          result.met && result.trial.score >= floor,
          `${name}, floor ${floor}: delivered q${result.trial.quality} scores ${result.trial.score.toFixed(1)}`
        )
        t.ok(
          result.trial.quality - best <= 10,
          `${name}, floor ${floor}: q${result.trial.quality} is within 10 of the optimum q${best}`
        )
      }
    }
  }
)

t.test('an unreachable floor ends at the top quality with the best achievable', async (t) => {
  const low = (q: number) => 40 + q / 4 // tops out at 65
  const result = search(low, low, 80)
  t.notOk(result.met)
  t.equal(result.trial.quality, 100, 'the best achievable is the top quality')
  t.ok(result.full.some((x) => x.quality === 100))
})

t.test('chooseQuality: smallest passing by bytes, else best score', async (t) => {
  const trials = [
    { quality: 50, score: 71, bytes: 900 },
    { quality: 45, score: 69, bytes: 800 },
    { quality: 60, score: 75, bytes: 1200 }
  ]
  t.same(chooseQuality(trials, 70), { trial: trials[0], met: true })
  t.same(chooseQuality(trials, 80), { trial: trials[2], met: false })
  t.throws(() => chooseQuality([], 70), RangeError)
})

t.test('out of full-size trials with nothing passing: one last trial at the top quality', async (t) => {
  const proxy = [
    { quality: 60, score: 75, bytes: 1 },
    { quality: 70, score: 80, bytes: 2 }
  ]
  const full = [60, 62, 64, 66].map((q) => ({ quality: q, score: 60 + (q - 60) / 4, bytes: q }))
  t.equal(nextFullQuality(proxy, full, 70), SEARCH_LIMITS.max)
  t.equal(nextFullQuality(proxy, [...full, { quality: 100, score: 69, bytes: 100 }], 70), null, 'and then stops')
  t.equal(
    nextFullQuality(proxy, [...full.slice(0, 3), { quality: 66, score: 71, bytes: 66 }], 70),
    null,
    'not when one passed'
  )
  t.equal(
    nextFullQuality(proxy, full.slice(0, 1), 70, { ...SEARCH_LIMITS, fullTrials: 1, lastAtMax: false }),
    null,
    'nor for a second chance, which has a passing output in hand'
  )
})

t.test(
  'one-sided full-size steps follow the proxy curve shifted by the offset measured at full size, aiming `aim` above',
  async (t) => {
    const proxy = [50, 55, 60].map((q) => ({ quality: q, score: 10 + q, bytes: q })) // slope 1
    t.equal(SEARCH_LIMITS.aim, 1)
    t.equal(
      nextFullQuality(proxy, [], 70, undefined, 2),
      63,
      'first: where the proxy, less its optimism, reaches a point above the floor'
    )
    // Scored 4 below the proxy at q60: 71 needs the proxy at 75, q65, plus one point (measured below).
    t.equal(nextFullQuality(proxy, [{ quality: 60, score: 66, bytes: 60 }], 70), 66)
    // Scored 6 above at q60: q55 is predicted to reach 71.
    t.equal(nextFullQuality(proxy, [{ quality: 60, score: 76, bytes: 60 }], 70), 55)
    // A passing trial where the corrected curve crosses: nothing cheaper is predicted, stop.
    t.equal(nextFullQuality(proxy, [{ quality: 60, score: 70.5, bytes: 60 }], 70), null)
  }
)

t.test('a step up from a full-size miss goes no further than the flattest real curve needs', async (t) => {
  // A nearly flat proxy (a mosaic of plain background): the shifted curve would put 81 at q21.
  const proxy = [
    { quality: 5, score: 87.6, bytes: 5 },
    { quality: 7, score: 86.9, bytes: 7 },
    { quality: 37, score: 91.8, bytes: 37 }
  ]
  t.equal(
    nextFullQuality(proxy, [{ quality: 5, score: 79.7, bytes: 5 }], 80, { ...SEARCH_LIMITS, aim: 1 }),
    10,
    '1.3 points at 0.3 a quality point: 5 qualities up'
  )
  // A steep curve is unaffected: its own step is shorter.
  const steep = [50, 55, 60].map((q) => ({ quality: q, score: 10 + q, bytes: q }))
  t.equal(
    nextFullQuality(steep, [{ quality: 60, score: 69.5, bytes: 60 }], 70),
    63,
    'the shifted proxy curve, one point more'
  )
})

t.test('nextFullQuality settles on a full-size trial that reaches the floor by at most `settle` points', async (t) => {
  const proxy = [
    { quality: 50, score: 65, bytes: 1 },
    { quality: 70, score: 75, bytes: 2 }
  ]
  t.equal(SEARCH_LIMITS.settle, 3)
  t.equal(nextFullQuality(proxy, [{ quality: 62, score: 72.8, bytes: 1 }], 70), null, '2.8 above: delivered as it is')
  t.equal(
    nextFullQuality(proxy, [{ quality: 62, score: 73.5, bytes: 1 }], 70),
    57,
    '3.5 above: the shifted proxy curve says 57 reaches 71'
  )
  t.equal(
    nextFullQuality(proxy, [{ quality: 62, score: 73.5, bytes: 1 }], 70, { ...SEARCH_LIMITS, settle: 4 }),
    null,
    'a wider settle stops there too'
  )
})

t.test('a passing full-size trial is not followed by a step down shorter than the tolerance', async (t) => {
  const proxy = [50, 55, 60].map((q) => ({ quality: q, score: 10 + q, bytes: q })) // slope 1
  t.equal(SEARCH_LIMITS.tolerance, 3)
  // 4 above at q60: the shifted curve says q57 reaches 71, a step of 3: taken.
  t.equal(nextFullQuality(proxy, [{ quality: 60, score: 74, bytes: 60 }], 70), 57)
  // 3.5 above: q58 (a step of 2) is predicted; not worth a trial.
  t.equal(nextFullQuality(proxy, [{ quality: 60, score: 73.5, bytes: 60 }], 70), null)
})

t.test("bytesAt: log-linear between the proxy trials, the end pair's growth beyond them, never falling", async (t) => {
  const trials = [
    { quality: 40, score: 60, bytes: 1000 },
    { quality: 60, score: 70, bytes: 4000 },
    { quality: 80, score: 80, bytes: 8000 }
  ]
  t.equal(Math.round(bytesAt(trials, 50)), 2000, 'geometric midpoint')
  t.equal(Math.round(bytesAt(trials, 90)), 11314, 'beyond the top: ×2 per 20 qualities')
  t.equal(Math.round(bytesAt(trials, 30)), 500, 'below the bottom: ×4 per 20 qualities')
  t.equal(bytesAt([trials[0]!, { quality: 50, score: 61, bytes: 900 }], 70), 1000, 'a falling pair is flat')
  t.equal(bytesAt([trials[1]!], 99), 4000)
})

t.test(
  'preferOnProxy: the variant predicted to reach the floor in fewer bytes; else the one scoring higher at the top',
  async (t) => {
    // 4:2:0-like: cheap per quality but flattening below the floor; 4:4:4-like: dearer per quality, steeper.
    const flat = [
      { quality: 86, score: 78.7, bytes: 10_000 },
      { quality: 91, score: 81.8, bytes: 12_000 }
    ]
    const steep = [
      { quality: 82, score: 81.5, bytes: 11_000 },
      { quality: 86, score: 84, bytes: 12_500 }
    ]
    t.equal(preferOnProxy(flat, steep, 80, 0.8), 'b', 'q≈82 at 4:4:4 (~11,000 bytes) beats q≈93 at 4:2:0 (~12,800)')
    t.equal(preferOnProxy(steep, flat, 80, 0.8), 'a', 'the order does not matter')
    const dear = steep.map((x) => ({ ...x, bytes: x.bytes * 1.5 }))
    t.equal(preferOnProxy(flat, dear, 80, 0.8), 'a', 'the same curve at 1.5× the bytes loses')
    t.equal(
      preferOnProxy(flat, steep, 80, 0.8, 0.04),
      'b',
      'a dearer encode is chosen when it saves more than asked (~5%: q83 ~11,400 bytes, q91 12,000)'
    )
    t.equal(preferOnProxy(flat, steep, 80, 0.8, 0.1), 'a', 'but not when it saves less than asked')
    const capped = [
      { quality: 96, score: 80.8, bytes: 20_000 },
      { quality: 100, score: 81, bytes: 24_000 }
    ]
    t.equal(
      preferOnProxy(capped, steep, 82, 1.5),
      'b',
      'one that cannot reach the floor loses to one that can, whatever the bytes'
    )
    const low = capped.map((x) => ({ ...x, score: x.score - 3 }))
    t.equal(preferOnProxy(low, capped, 90, 0), 'b', 'neither reaches: the higher at the top')
  }
)

t.test(
  'secondChance: the other setting gets one full-size trial after a miss, or after a high quality not compared',
  async (t) => {
    const above = 88
    t.ok(secondChance({ met: false, alternative: false, quality: 70 }, above, false), 'the default missed the floor')
    t.ok(secondChance({ met: false, alternative: true, quality: 70 }, above, true), 'the alternative missed it too')
    t.ok(
      secondChance({ met: true, alternative: false, quality: 90 }, above, false),
      "the default met it above the alternative's threshold, the proxy never compared them"
    )
    t.notOk(secondChance({ met: true, alternative: false, quality: 90 }, above, true), 'already compared on the proxy')
    t.notOk(secondChance({ met: true, alternative: false, quality: 88 }, above, false), 'at the threshold: no')
    t.notOk(secondChance({ met: true, alternative: true, quality: 95 }, above, false), 'the alternative met it')
  }
)

t.test('a hinted start: the proxy search begins there, and brackets a crossing near it in fewer trials', async (t) => {
  t.equal(nextProxyQuality([], 70, SEARCH_LIMITS, 33), 33, 'the first trial goes to the hint')
  t.equal(nextProxyQuality([], 70, SEARCH_LIMITS, 140), SEARCH_LIMITS.max, 'within the limits')
  const run = (score: (q: number) => number, floor: number, start?: number) => {
    const proxy: Trial[] = []
    const next = () => nextProxyQuality(proxy, floor, SEARCH_LIMITS, start)
    for (let q = next(); q !== null; q = next()) proxy.push(trial(score)(q))
    return proxy
  }
  for (const scale of [8, 15, 25]) {
    const score = curve(scale)
    const best = optimum(score, 70)!
    const cold = run(score, 70)
    // A hint a few qualities off the crossing, as a sibling size's result is.
    for (const off of [-4, 0, 4]) {
      const warm = run(score, 70, best + off)
      t.ok(warm.length <= cold.length, `scale ${scale}, hint ${off}: ${warm.length} trials, cold ${cold.length}`)
      t.ok(
        Math.abs(predictQuality(warm, 70, 0) - best) <= 3,
        `scale ${scale}, hint ${off}: predicts q${predictQuality(warm, 70, 0)} for the optimum q${best}`
      )
    }
  }
})
