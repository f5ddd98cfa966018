/**
 * The decisions of the auto-quality search, as pure functions of the trials made so far. Encoding and scoring
 * happen in auto.ts; here only: which quality to try next, which setting to try, and which trial to deliver.
 *
 * Two stages, because scoring costs far more than encoding (a SSIMULACRA2 trial ~0.03 µs per pixel, a JPEG
 * encode ~0.005):
 *   1. proxy: a few ten thousand of the image's pixels (a mosaic of tiles at full resolution, see mosaic.ts);
 *      a search stops once a trial lands near the floor or the crossing is bracketed (`nextProxyQuality`);
 *   2. full size: the real output is encoded where the proxy curve predicts a point above the floor, and
 *      scored; further full-size trials (`nextFullQuality`) correct the proxy curve by the offset they measure,
 *      until a confirmed output reaches the floor by at most `settle` points, or no cheaper one is predicted.
 */

/** One encoding: its quality, SSIMULACRA2 score against the reference and size. */
export interface Trial {
  quality: number
  score: number
  bytes: number
}

export interface SearchLimits {
  min: number
  max: number
  /** Stop bracketing on the proxy when the bracket is this narrow (quality points): it only predicts. */
  proxyTolerance: number
  /** Stop on the proxy once two trials are made and one scores within this many points of the target: the
   *  pair's slope then places the crossing within a few qualities, closer than the proxy predicts the full size. */
  proxyClose: number
  /** Stop bracketing at full size when the bracket is this narrow. */
  tolerance: number
  /** Stop at full size once a trial reaches the floor by no more than this many points: a point is ~2–3
   *  quality points (~3–5% of the bytes) near the floors, but a full-size trial costs an encode, a decode and a
   *  score, more than a whole fixed-quality run; JPEG's bytes had room for it (auto ÷ uniform 0.58 → 0.61). */
  settle: number
  /** Full-size trials aim this many points above the score required, so that the first one usually passes
   *  (one short by a fraction of a point costs a second). */
  aim: number
  /** Full-size encodes allowed per image (each costs an encode, a decode and a bounded score), plus one at
   *  `max` when none of them reached the floor and `lastAtMax`. */
  fullTrials: number
  /** Off where an output reaching the floor is already in hand (a second chance only looks for a smaller one). */
  lastAtMax: boolean
}

export const SEARCH_LIMITS: SearchLimits = {
  min: 5,
  max: 100,
  proxyTolerance: 5,
  proxyClose: 1.5,
  tolerance: 3,
  settle: 3,
  aim: 1,
  fullTrials: 4,
  lastAtMax: true
}

/** Where the first proxy trial goes: about where typical photos cross each floor. */
export function startQuality(floor: number): number {
  return Math.max(20, Math.min(95, Math.round(floor + 5)))
}

const byQuality = (trials: Trial[]) => [...trials].sort((a, b) => a.quality - b.quality)

/** The tightest bracket: the highest quality below the floor and the lowest one reaching it. */
export function bracket(trials: Trial[], floor: number): { below?: Trial; above?: Trial } {
  let below: Trial | undefined
  let above: Trial | undefined
  for (const t of trials) {
    if (t.score >= floor) {
      if (!above || t.quality < above.quality) above = t
    } else if (!below || t.quality > below.quality) {
      below = t
    }
  }
  return { below, above }
}

/**
 * Next quality to encode the proxy at, or null when the crossing is bracketed closely enough (or unreachable).
 * The first goes to `start`: where typical photos cross, or a better prediction (a hint, hints.ts).
 */
export function nextProxyQuality(
  trials: Trial[],
  floor: number,
  limits: SearchLimits = SEARCH_LIMITS,
  start = startQuality(floor)
): number | null {
  if (trials.length === 0) return Math.min(limits.max, Math.max(limits.min, Math.round(start)))
  const tried = new Set(trials.map((t) => t.quality))
  if (trials.length >= 2 && trials.some((t) => Math.abs(t.score - floor) <= limits.proxyClose)) return null
  const { below, above } = bracket(trials, floor)
  let next: number
  if (!above) {
    // Everything so far is below the floor: step up by the local slope (or 1.5 points a point at first), at
    // least 3 qualities (a step shorter than the slope's noise).
    const top = below!
    if (top.quality >= limits.max) return null
    next = top.quality + Math.min(30, Math.max(3, Math.ceil((floor - top.score) / localSlope(trials, top) + 1)))
  } else if (!below) {
    if (above.quality <= limits.min) return null
    // Curves steepen lower down, so a slope measured above overshoots: taken 1.5× steeper. On the 11 bench
    // photos the proxy trials went 46 → 40 at eco, and the full-size megapixels 22.5 → 20.4 at good.
    const slope = trials.length > 1 ? DOWNWARD_STEEPENING * localSlope(trials, above) : localSlope(trials, above)
    next = above.quality - Math.min(30, Math.max(3, Math.floor((above.score - floor) / slope)))
  } else {
    if (above.quality - below.quality <= limits.proxyTolerance) return null
    // Linear interpolation of the crossing, met halfway by bisection (curves bend), strictly inside the bracket.
    const slope = (above.score - below.score) / (above.quality - below.quality)
    const secant = below.quality + (floor - below.score) / Math.max(slope, 1e-6)
    next = Math.round((secant + (below.quality + above.quality) / 2) / 2)
    next = Math.min(above.quality - 1, Math.max(below.quality + 1, next))
  }
  next = Math.min(limits.max, Math.max(limits.min, next))
  return tried.has(next) ? null : next
}

const DOWNWARD_STEEPENING = 1.5

/** Slope of the curve at one end of the trials (between it and its nearest neighbour), 0.67 with one trial. */
function localSlope(trials: Trial[], end: Trial): number {
  const others = trials
    .filter((t) => t !== end)
    .sort((a, b) => Math.abs(a.quality - end.quality) - Math.abs(b.quality - end.quality))
  if (others.length === 0) return 1 / 1.5
  const slope = (end.score - others[0]!.score) / (end.quality - others[0]!.quality)
  return Number.isFinite(slope) ? Math.min(3, Math.max(0.2, slope)) : 1 / 1.5
}

const MIN_SLOPE = 0.3
/** The largest step between full-size trials: a prediction far from every trial is an extrapolation. */
const MAX_STEP = 30

/**
 * The proxy curve's score at a quality: linear between the nearest trials; beyond the trials at either end it
 * goes on with the slope of the two end trials, at least MIN_SLOPE (a noisy pair can be flat or falling; real
 * curves rise 0.3–1.5 points a quality point near the floors). One trial: flat.
 */
export function curveAt(trials: Trial[], quality: number): number {
  const sorted = byQuality(trials)
  if (sorted.length === 0) return NaN
  const first = sorted[0]!,
    last = sorted[sorted.length - 1]!
  if (sorted.length === 1) return first.score
  const slope = (a: Trial, b: Trial) => Math.max(MIN_SLOPE, (b.score - a.score) / (b.quality - a.quality))
  if (quality < first.quality) return first.score - slope(first, sorted[1]!) * (first.quality - quality)
  if (quality > last.quality) return last.score + slope(sorted[sorted.length - 2]!, last) * (quality - last.quality)
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!,
      b = sorted[i]!
    if (quality <= b.quality)
      return a.score + ((b.score - a.score) * (quality - a.quality)) / (b.quality - a.quality || 1)
  }
  return last.score
}

/** The lowest quality whose predicted score (proxy curve + offset) reaches the floor, or `limits.max` when none does. */
export function predictQuality(
  proxy: Trial[],
  floor: number,
  offset: number,
  limits: SearchLimits = SEARCH_LIMITS
): number {
  for (let q = limits.min; q <= limits.max; q++) if (curveAt(proxy, q) + offset >= floor) return q
  return limits.max
}

/**
 * The next full-size quality to encode, or null to stop. `full` are the trials scored at full resolution,
 * `required` the score they must reach (the floor, plus a margin when the score came from a sample).
 *
 * The full-size curve is modelled as the proxy's shifted by an offset that changes slowly with quality. The
 * first trial goes where the proxy curve, less the proxy's typical `optimism`, crosses `required`; every
 * later one where it crosses with the offset measured at the latest full-size trial (kept strictly inside
 * the bracket the full-size trials have closed so far). It stops when the bracket is `tolerance` wide, or
 * when a passing trial is already where the corrected curve says the crossing is.
 */
export function nextFullQuality(
  proxy: Trial[],
  full: Trial[],
  required: number,
  limits: SearchLimits = SEARCH_LIMITS,
  optimism = 0
): number | null {
  if (full.length === 0) return firstFullQuality(proxy, required, optimism, limits)
  const aim = required + limits.aim
  const { below, above } = bracket(full, required)
  if (full.length >= limits.fullTrials) {
    // Out of trials with nothing passing: one last encode at the top, so "best achievable" is what it says.
    return limits.lastAtMax &&
      !above &&
      !full.some((t) => t.quality === limits.max) &&
      full.length === limits.fullTrials
      ? limits.max
      : null
  }
  if (above && above.score - required <= limits.settle) return null
  let next: number
  if (below && above) {
    if (above.quality - below.quality <= limits.tolerance) return null
    // Inside a bracket the full-size trials themselves say where the crossing is: a secant, met halfway by
    // bisection (curves flatten as quality rises, so a secant over a wide bracket lands high).
    const slope = (above.score - below.score) / (above.quality - below.quality)
    const secant = below.quality + (required - below.score) / Math.max(slope, 1e-6)
    next = Math.ceil((secant + (below.quality + above.quality) / 2) / 2)
    next = Math.min(above.quality - 1, Math.max(below.quality + 1, next))
  } else {
    // One-sided: the proxy curve, shifted by the offset measured at the nearest full-size trial.
    const last = (above ?? below)!
    next = predictQuality(proxy, aim, last.score - curveAt(proxy, last.quality), limits)
    next = Math.min(last.quality + MAX_STEP, Math.max(last.quality - MAX_STEP, next))
    if (above) {
      // A step down shorter than the bracket's tolerance would save a few percent of the bytes for a whole
      // trial, and WebP's curves flatten at low qualities, where such steps barely moved the score (four
      // trials from q22 to q18 within 0.3 points).
      if (above.quality <= limits.min || next > above.quality - limits.tolerance) return null
    } else {
      if (below!.quality >= limits.max) return null
      // Measured below the floor, where curves are steeper: one point more keeps the step from landing short.
      // But never further than the flattest real curve (MIN_SLOPE) needs to close the gap: a flat proxy (a
      // mosaic of mostly plain paper, 1 point over q7–37) sent a WebP 0.3 short at q5 to q21, 3.3 above.
      const flattest = below!.quality + Math.ceil((aim - below!.score) / MIN_SLOPE)
      next = Math.max(below!.quality + 1, Math.min(flattest, next + 1))
    }
  }
  next = Math.min(limits.max, Math.max(limits.min, next))
  return full.some((t) => t.quality === next) ? null : next
}

/** Where the first full-size trial goes: where the proxy curve, less its `optimism`, reaches `required` + aim. */
export function firstFullQuality(
  proxy: Trial[],
  required: number,
  optimism = 0,
  limits: SearchLimits = SEARCH_LIMITS
): number {
  return predictQuality(proxy, required + limits.aim, -optimism, limits)
}

/**
 * The proxy's bytes at a quality: log-linear between the nearest trials, beyond the ends with the end pair's
 * slope (at least flat: bytes never fall as quality rises). One trial: its bytes.
 */
export function bytesAt(trials: Trial[], quality: number): number {
  const sorted = byQuality(trials)
  if (sorted.length === 0) return NaN
  if (sorted.length === 1) return sorted[0]!.bytes
  let i = 1
  while (i < sorted.length - 1 && sorted[i]!.quality < quality) i++
  const a = sorted[i - 1]!,
    b = sorted[i]!
  const slope = Math.max(0, Math.log(b.bytes / a.bytes) / (b.quality - a.quality || 1))
  return a.bytes * Math.exp(slope * (quality - a.quality))
}

/**
 * Which of two encoder variants (say JPEG's 4:2:0 and 4:4:4 chroma) to confirm at full size, from their proxy
 * trials alone: the one predicted to reach `required` (with the proxy's `optimism` taken off, as the first
 * full-size trial is placed) in fewer bytes, `b` only if by at least the fraction `saving` (a dearer encode must
 * earn it); if neither reaches it, the one scoring higher at the top. A full-size trial costs more than a
 * whole proxy search, so the loser is never encoded at full size.
 */
export function preferOnProxy(
  a: Trial[],
  b: Trial[],
  required: number,
  optimism: number,
  saving = 0,
  limits: SearchLimits = SEARCH_LIMITS
): 'a' | 'b' {
  const outlook = (proxy: Trial[]) => {
    const quality = firstFullQuality(proxy, required, optimism, limits)
    return {
      reaches: curveAt(proxy, quality) - optimism >= required,
      bytes: bytesAt(proxy, quality),
      top: curveAt(proxy, limits.max)
    }
  }
  const x = outlook(a),
    y = outlook(b)
  if (x.reaches !== y.reaches) return x.reaches ? 'a' : 'b'
  if (!x.reaches) return y.top > x.top ? 'b' : 'a'
  return y.bytes < x.bytes * (1 - saving) ? 'b' : 'a'
}

/**
 * Whether the format's other encoder setting gets a second chance (one full-size trial where its own proxy
 * curve says the floor is): when the trial to deliver missed the floor, or when the default setting needed a
 * quality above the alternative's `above` and the proxy has not `compared` the two yet.
 */
export function secondChance(
  best: { met: boolean; alternative: boolean; quality: number },
  above: number,
  compared: boolean
): boolean {
  return !best.met || (!best.alternative && best.quality > above && !compared)
}

/** What to deliver: the smallest trial reaching the floor; otherwise the best-scoring one (floor not met). */
export function chooseQuality(trials: Trial[], required: number): { trial: Trial; met: boolean } {
  if (trials.length === 0) throw new RangeError('chooseQuality needs at least one trial')
  const passing = trials.filter((t) => t.score >= required)
  if (passing.length > 0) return { trial: passing.reduce((a, b) => (b.bytes < a.bytes ? b : a)), met: true }
  return { trial: trials.reduce((a, b) => (b.score > a.score ? b : a)), met: false }
}
