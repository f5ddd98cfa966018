import type Sharp from 'sharp'
import { encodeAs } from '../compress/encoder.ts'
import type { Found } from './hints.ts'
import { decodeFlat, type RawImage, rawInput } from './pixels.ts'
import {
  chooseQuality,
  firstFullQuality,
  nextFullQuality,
  nextProxyQuality,
  preferOnProxy,
  SEARCH_LIMITS,
  type SearchLimits,
  secondChance,
  startQuality,
  type Trial
} from './search.ts'
import {
  type AutoEncoding,
  encodeTrial,
  type Outcome,
  prepare,
  type Search,
  type Searched,
  type SetSearches
} from './search-state.ts'

export type { AutoEncoding, SetSearches } from './search-state.ts'

/**
 * quality=auto: the smallest encoding of one still image whose SSIMULACRA2 score reaches a floor. The decisions
 * are pure functions of the trials so far (search.ts); this module makes the trials they ask for (encode,
 * decode, score) in named steps:
 *   1. `searchProxy`: bracket the floor on the proxy (mosaic.ts), cheap trials;
 *   2. `chooseSetting`: where the format's alternative setting may be smaller, search its proxy too and keep
 *      the setting predicted smaller;
 *   3. `searchFullSize`: encode the image itself where the proxy curve predicts the floor, and score it (whole
 *      or sampled, full-size.ts) until the decisions stop;
 *   4. `tryOtherSetting`: one full-size trial of the other setting when the first missed the floor, or needed
 *      so high a quality that the alternative may be smaller;
 *   5. `deliver`: the smallest trial reaching the floor, else the best-scoring one.
 * In an output set, a format's search after its first is carried (`carrySearch`, hints.ts) in place of 1–3.
 * Scoring a trial costs ~9× a JPEG encode per pixel, so the pixels scored are what is budgeted.
 */

/** Above this many output pixels auto is not searched (memory: ~10 bytes per pixel held across trials). */
export const AUTO_MAX_PIXELS = 40_000_000

export interface AutoResult {
  data: Buffer
  quality: number
  score: number
  /** Whether the delivered output reached the floor (otherwise it is the best-scoring one tried). */
  met: boolean
  /** Whether the format's alternative setting was delivered (JPEG's 4:4:4, WebP's sharp YUV). */
  alternative: boolean
  /** Every trial, for the bench and for tuning: the proxy's and the full-size ones (both settings). */
  proxy: Trial[]
  full: Trial[]
  /** Whether the full-size score covers the whole image or a sample of crops. */
  sampled: boolean
}

/**
 * Searches the quality of one still image already decoded to `raw` (oriented, sRGB, resized). In an output set,
 * `set` shares the references per size and starts from what the set's earlier searches found.
 */
export async function encodeAuto(
  sharp: typeof Sharp,
  raw: RawImage,
  encoding: AutoEncoding,
  floor: number,
  set?: SetSearches
): Promise<AutoResult> {
  if (raw.width < 8 || raw.height < 8 || raw.width * raw.height > AUTO_MAX_PIXELS) {
    // Too small for the metric's 8×8 window, or so large that holding the reference, the decoded trials and
    // their float planes would risk the worker's memory: the level's typical quality, no score.
    return unscored(sharp, raw, encoding, floor)
  }
  const search = await prepare(sharp, raw, encoding, floor, set)
  try {
    let searched: Searched
    if (search.scoring.small) {
      // A small image's proxy search is its final one.
      const first = await searchProxy(search, false)
      searched = { best: first, proxies: [first] }
    } else if (search.hint) {
      searched = { best: await carrySearch(search, search.hint), proxies: [] }
    } else {
      const { chosen, proxies } = await chooseSetting(search, await searchProxy(search, false))
      searched = { best: await searchFullSize(search, chosen, SEARCH_LIMITS), proxies }
    }
    const done = await tryOtherSetting(search, searched)
    set?.hints.record(found(search, done.best), done.best.met)
    return deliver(search, done)
  } finally {
    // Their WebAssembly memories go back to the pool for the next image.
    search.release()
  }
}

async function unscored(
  sharp: typeof Sharp,
  raw: RawImage,
  encoding: AutoEncoding,
  floor: number
): Promise<AutoResult> {
  const quality = startQuality(floor)
  const data = await encodeAs(rawInput(sharp, raw), { ...encoding, quality, setting: 'auto' }).toBuffer()
  return { data, quality, score: NaN, met: false, alternative: false, proxy: [], full: [], sampled: false }
}

/** Step 1: brackets the floor on the proxy. A small image's proxy trials are its final ones. */
async function searchProxy(search: Search, alternative: boolean): Promise<Outcome> {
  const { small, required } = search.scoring
  const target = small ? search.floor : required + search.optimism
  const trials: Trial[] = []
  const outputs = new Map<number, Buffer>()
  const next = () => nextProxyQuality(trials, target, SEARCH_LIMITS, search.hint?.quality)
  for (let q = next(); q !== null; q = next()) {
    const out = await encodeTrial(search, search.proxy, q, alternative)
    trials.push({ quality: q, score: search.proxyScorer(await decodeFlat(search.sharp, out)), bytes: out.length })
    if (small) outputs.set(q, out)
  }
  return {
    alternative,
    proxyTrials: trials,
    fullTrials: small ? trials : [],
    outputs,
    ...chooseQuality(trials, search.floor)
  }
}

/**
 * Step 2: which setting to search at full size. When the default setting's proxy places the first full-size
 * trial above the alternative's `above`, the alternative's proxy is searched too, and only the one predicted
 * smaller is searched at full size (a full-size trial costs more than a proxy search).
 */
async function chooseSetting(search: Search, first: Outcome): Promise<{ chosen: Outcome; proxies: Outcome[] }> {
  const { alternative, optimism } = search
  const { required } = search.scoring
  if (!alternative || firstFullQuality(first.proxyTrials, required, optimism) <= alternative.above)
    return { chosen: first, proxies: [first] }
  const other = await searchProxy(search, true)
  const choice = preferOnProxy(first.proxyTrials, other.proxyTrials, required, optimism, alternative.saving)
  return { chosen: choice === 'b' ? other : first, proxies: [first, other] }
}

/**
 * A carried search settles for a passing trial up to 5 points over (3 alone) and makes at most 3 full-size trials
 * (4 alone): it starts near the answer, and the trials it would add only shave bytes off an output smaller than
 * the first size's (`web,amazon,google` on the 7 bench images: the set's CPU ÷ its outputs made alone 0.610 → 0.594, bytes 1.005× → 1.008×).
 */
const CARRIED_LIMITS: SearchLimits = { ...SEARCH_LIMITS, settle: 5, fullTrials: 3 }

/**
 * Steps 1–3 of a carried search (in a set, where the format was searched at another size): no proxy search of
 * its own. The first full-size trial goes to the quality the other size reached, and any further one steps on
 * that size's proxy curve, corrected by the offset this size's trials measure, as searchFullSize does.
 */
function carrySearch(search: Search, hint: Found): Promise<Outcome> {
  const carried: Outcome = {
    alternative: hint.alternative,
    proxyTrials: hint.curve,
    fullTrials: [],
    outputs: new Map(),
    trial: { quality: hint.quality, score: Number.NaN, bytes: 0 },
    met: false
  }
  return searchFullSize(search, carried, CARRIED_LIMITS, hint.quality)
}

/** Step 3: full-size trials of the setting `proxied` searched (the first at `first` if given), scored whole or sampled. */
async function searchFullSize(
  search: Search,
  proxied: Outcome,
  limits: SearchLimits,
  first?: number
): Promise<Outcome> {
  const { required } = search.scoring
  const fullTrials: Trial[] = []
  const outputs = new Map<number, Buffer>()
  for (;;) {
    const q =
      fullTrials.length === 0 && first !== undefined
        ? first
        : nextFullQuality(proxied.proxyTrials, fullTrials, required, limits, search.optimism)
    if (q === null) break
    const out = await encodeTrial(search, search.raw, q, proxied.alternative)
    fullTrials.push({
      quality: q,
      score: search.fullScorer!(await decodeFlat(search.sharp, out), q),
      bytes: out.length
    })
    outputs.set(q, out)
  }
  return {
    alternative: proxied.alternative,
    proxyTrials: proxied.proxyTrials,
    fullTrials,
    outputs,
    ...chooseQuality(fullTrials, required)
  }
}

/**
 * Step 4: a second chance, not a second search: the other setting, at one full-size trial where its own proxy
 * curve says the floor is (see `secondChance`). The better of the two is kept.
 */
async function tryOtherSetting(search: Search, { best, proxies }: Searched): Promise<Searched> {
  const { alternative, scoring } = search
  // A carried search's setting is the one its format's first search chose, comparing both where it mattered.
  const compared = proxies.length > 1 || (search.hint !== undefined && !scoring.small)
  const delivered = { met: best.met, alternative: best.alternative, quality: best.trial.quality }
  if (!alternative || !secondChance(delivered, alternative.above, compared)) return { best, proxies }
  const setting = !best.alternative
  const searched = proxies.find((o) => o.alternative === setting) ?? (await searchProxy(search, setting))
  const other = scoring.small
    ? searched
    : await searchFullSize(search, searched, { ...SEARCH_LIMITS, fullTrials: 1, lastAtMax: !best.met })
  const pick = chooseQuality([best.trial, other.trial], scoring.required).trial === other.trial ? other : best
  return {
    best: { ...pick, fullTrials: scoring.small ? pick.fullTrials : [...best.fullTrials, ...other.fullTrials] },
    proxies: proxies.includes(searched) ? proxies : [...proxies, searched]
  }
}

/** What this search found, for the set's searches after it (hints.ts). */
function found({ encoding, floor, raw }: Search, best: Outcome): Found {
  const pixels = raw.width * raw.height
  return {
    format: encoding.format,
    floor,
    pixels,
    quality: best.trial.quality,
    alternative: best.alternative,
    curve: best.proxyTrials
  }
}

/** Step 5: the output of the best trial, with every trial made. */
function deliver(search: Search, { best, proxies }: Searched): AutoResult {
  const { trial, met } = best
  return {
    data: best.outputs.get(trial.quality)!,
    quality: trial.quality,
    score: trial.score,
    met,
    alternative: best.alternative,
    proxy: proxies.flatMap((o) => o.proxyTrials),
    full: search.scoring.small ? [] : best.fullTrials,
    sampled: search.scoring.sampled
  }
}
