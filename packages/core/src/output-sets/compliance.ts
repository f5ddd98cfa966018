import Type, { type Static } from 'typebox'
import type { SizeLimits } from './geometry.ts'

/**
 * Marketplaces' published image rules (sources in docs/outputs.md) and the verdict on one output against them:
 * `pass` when the source already met them and was only re-encoded, `fixed` when it meets them after the listed
 * changes, `fail` when meeting them would need invented pixels (the best-effort output is still delivered).
 */

export type ProfileName = 'amazon' | 'google' | 'ebay' | 'shopify'
type Format = 'jpeg' | 'png' | 'webp' | 'gif' | 'avif'

export interface ProfileRules {
  /** Output formats the marketplace takes that we write (its preset writes JPEG). */
  formats: Format[]
  /** Smallest size it accepts: on the longest side, or on both sides. */
  min: { px: number; sides: 'longest' | 'both' }
  /** Sizes below which it shows the image worse (a warning each). */
  advice: Array<{ px: number; sides: 'longest' | 'both'; message: string }>
  limits: SizeLimits
  maxBytes: number
  /** Amazon's main image: a pure white background, the product filling at least `minFill` of the frame. */
  whiteBackground: { minFill: number; fill: number } | null
}

const MB = 1_000_000

export const PROFILES: Record<ProfileName, ProfileRules> = {
  amazon: {
    formats: ['jpeg', 'png', 'gif'],
    min: { px: 500, sides: 'longest' },
    advice: [{ px: 1000, sides: 'longest', message: 'zoom needs at least 1000 px on the longest side' }],
    limits: { maxSide: 10_000, maxPixels: Infinity },
    maxBytes: 10 * MB,
    whiteBackground: { minFill: 0.85, fill: 0.87 }
  },
  google: {
    formats: ['jpeg', 'png', 'webp', 'gif'],
    min: { px: 100, sides: 'both' },
    advice: [
      { px: 250, sides: 'both', message: 'apparel needs at least 250 × 250 px' },
      { px: 500, sides: 'both', message: 'from 31 January 2027 every product image needs at least 500 × 500 px' }
    ],
    limits: { maxSide: Infinity, maxPixels: 64_000_000 },
    maxBytes: 16 * MB,
    whiteBackground: null
  },
  ebay: {
    formats: ['jpeg', 'png'],
    min: { px: 500, sides: 'longest' },
    advice: [{ px: 1600, sides: 'longest', message: 'eBay recommends 1600 px on the longest side' }],
    limits: { maxSide: Infinity, maxPixels: Infinity },
    maxBytes: 12 * MB,
    whiteBackground: null
  },
  shopify: {
    formats: ['jpeg', 'png', 'webp', 'gif'],
    min: { px: 1, sides: 'longest' },
    advice: [{ px: 2048, sides: 'both', message: 'Shopify shows 2048 × 2048 px square images best' }],
    // The Admin API's 4472 × 4472 (20 MP) is within the help centre's 5000 × 5000 (25 MP): both are met.
    limits: { maxSide: 4472, maxPixels: 20_000_000 },
    maxBytes: 20 * MB,
    whiteBackground: null
  }
}

export const ComplianceView = Type.Object(
  {
    profile: Type.String(),
    verdict: Type.Union([Type.Literal('pass'), Type.Literal('fixed'), Type.Literal('fail')], {
      description: 'pass: met the rules and only re-encoded; fixed: meets them after `changes`; fail: see `problems`.'
    }),
    changes: Type.Array(Type.String()),
    problems: Type.Array(Type.String()),
    warnings: Type.Array(Type.String())
  },
  { description: "An output checked against a marketplace's published image rules (docs/outputs.md)." }
)
export type Compliance = Static<typeof ComplianceView>

/** What the border of an image says about its background (found from the pixels by the worker). */
export interface BackgroundFacts {
  kind: 'white' | 'light' | 'dark' | 'busy'
  /** The border's typical colour. */
  colour: [number, number, number]
  /** Share of border pixels near that colour. */
  uniform: number
  /** How much of the frame the content (everything not background) fills, 0–1. */
  fill: number
}

/** What the background of a marketplace output gets: made white and trimmed, or left as it is. */
export function backgroundPlan(
  rules: ProfileRules | null,
  trim: boolean,
  background: BackgroundFacts | null
): { whiten: boolean; trim: boolean } {
  if (!background || (!trim && !rules?.whiteBackground)) return { whiten: false, trim: false }
  if (background.kind === 'busy' || background.kind === 'dark') return { whiten: false, trim: false }
  const whiten = background.kind === 'light'
  // An image that already meets the rules is left as it is: re-encoded only.
  const meets = rules?.whiteBackground && !whiten && background.fill >= rules.whiteBackground.minFill
  return { whiten, trim: !meets }
}

/** Everything known about one marketplace output once it is made. */
export interface MadeOutput {
  width: number
  height: number
  bytes: number
  format: string
  source: { width: number; height: number; cmyk: boolean; transparent: boolean }
  background: BackgroundFacts | null
  whitened: boolean
  /** The product's share of the canvas when it was trimmed and centred. */
  padded: number | null
  /** Scaled down to the marketplace's size limits. */
  limited: boolean
  /** How max_bytes was met: by lowering the quality, by scaling down, or not at all. */
  fitBytes: { by: 'quality' | 'size'; quality: number; maxBytes: number } | null
}

const mb = (bytes: number) =>
  bytes < MB ? `${Math.round(bytes / 1000)} kB` : `${Math.round((bytes / MB) * 10) / 10} MB`
const pct = (share: number) => `${Math.round(share * 100)} %`

/** The verdict on one output against `profile`'s rules. */
export function judge(profile: ProfileName, made: MadeOutput): Compliance {
  const rules = PROFILES[profile]
  const changes: string[] = []
  const problems: string[] = []
  const warnings: string[] = []
  if (made.source.cmyk) changes.push('CMYK converted to sRGB')
  if (made.source.transparent && made.format === 'jpeg') changes.push('transparency flattened on white')
  if (made.whitened) changes.push('background made pure white')
  if (made.padded !== null) changes.push(`trimmed and centred: product fills ${pct(made.padded)}`)
  if (made.limited) changes.push(`downscaled to ${made.width} × ${made.height} px (${limitWords(rules)})`)
  const fit = made.fitBytes
  if (fit?.by === 'quality') changes.push(`quality lowered to ${fit.quality} to fit ${mb(fit.maxBytes)}`)
  if (fit?.by === 'size') changes.push(`downscaled to ${made.width} × ${made.height} px to fit ${mb(fit.maxBytes)}`)

  const wb = rules.whiteBackground
  if (wb && made.background) {
    const { kind, colour, uniform } = made.background
    if (kind === 'busy')
      problems.push(
        `the background is not one colour (${pct(uniform)} of the border is): it cannot be made white without cutting the product out`
      )
    else if (kind === 'dark')
      problems.push(
        `the background is a dark colour (rgb ${colour.join(', ')}): making it white would need the product cut out`
      )
  }
  const side = (sides: 'longest' | 'both') =>
    sides === 'longest' ? Math.max(made.width, made.height) : Math.min(made.width, made.height)
  if (side(rules.min.sides) < rules.min.px)
    problems.push(
      `${made.width} × ${made.height} px is under the ${sizeWords(rules.min.px, rules.min.sides)} required; enlarging would invent pixels`
    )
  else
    for (const advice of rules.advice)
      if (side(advice.sides) < advice.px) warnings.push(`${advice.message}; this is ${made.width} × ${made.height} px`)
  if (made.bytes > rules.maxBytes)
    problems.push(`${mb(made.bytes)} is over the ${mb(rules.maxBytes)} limit even at the lowest quality and size tried`)
  if (!(rules.formats as string[]).includes(made.format)) problems.push(`${made.format} is not accepted`)
  const verdict = problems.length > 0 ? 'fail' : changes.length > 0 ? 'fixed' : 'pass'
  return { profile, verdict, changes, problems, warnings }
}

function sizeWords(px: number, sides: 'longest' | 'both'): string {
  return sides === 'longest' ? `${px} px on the longest side` : `${px} × ${px} px`
}

function limitWords(rules: ProfileRules): string {
  const { maxSide, maxPixels } = rules.limits
  const parts = []
  if (Number.isFinite(maxSide)) parts.push(`at most ${maxSide.toLocaleString('en')} px a side`)
  if (Number.isFinite(maxPixels)) parts.push(`at most ${maxPixels / 1e6} MP`)
  return parts.join(', ')
}
