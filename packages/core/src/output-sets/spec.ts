import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { QualitySetting } from '../quality/setting.ts'
import { PROFILES } from './compliance.ts'

/**
 * Output sets: the `outputs` upload field, as the customer writes it (preset names and output specs), and as the
 * request keeps it (ResolvedOutput: every field present, in one order, serialisable and hashable). Presets are in
 * presets.ts; sizes in geometry.ts; marketplace rules in compliance.ts.
 */

export const OUTPUT_NAME_PATTERN = '^[a-z0-9-]{1,40}$'
/** Outputs one image may have: each costs an encode (and a search, with quality=auto). */
export const MAX_OUTPUTS = 24

export const OutputPreset = Type.Union(
  [Type.Literal('web'), Type.Literal('amazon'), Type.Literal('google'), Type.Literal('ebay'), Type.Literal('shopify')],
  { description: 'A named output set (docs/outputs.md): web variants, or one marketplace-compliant image.' }
)
export type OutputPreset = Static<typeof OutputPreset>

/*
 * Formats and profiles are patterned strings in the document, not enums: their values overlap OutputFormat's,
 * AutoQuality's and OutputPreset's, and a generator that names enum constants by value (Go's oapi-codegen) would
 * rename every colliding constant, breaking clients written against the existing ones.
 */
const oneOf = <T extends string>(values: readonly T[], description?: string) =>
  Type.Unsafe<T>(Type.String({ pattern: `^(${values.join('|')})$`, ...(description && { description }) }))

/** Formats a spec may list for `format: auto`. */
export const LISTED_FORMATS = ['jpeg', 'webp', 'avif', 'png'] as const
export type ListedFormat = (typeof LISTED_FORMATS)[number]
export const ListedFormat = oneOf(LISTED_FORMATS, 'One of jpeg, webp, avif, png.')

export type SpecFormat = ListedFormat | 'original' | 'auto'
export const SpecFormat = oneOf<SpecFormat>(
  [...LISTED_FORMATS, 'original', 'auto'],
  'jpeg, webp, avif or png; original keeps the input format; auto takes the smallest of `formats` that meets the quality.'
)

export const OutputFit = Type.Union(
  [Type.Literal('inside'), Type.Literal('cover'), Type.Literal('contain'), Type.Literal('pad')],
  {
    description:
      'inside: within width × height, aspect kept; cover: fills the box, the overflow cropped; contain: within ' +
      'the box, letterboxed with background; pad: centred on a canvas of the box aspect, filling `fill` of it.'
  }
)
export type OutputFit = Static<typeof OutputFit>

export type MarketplaceProfile = 'amazon' | 'google' | 'ebay' | 'shopify'
export const MarketplaceProfile = oneOf<MarketplaceProfile>(
  ['amazon', 'google', 'ebay', 'shopify'],
  'amazon, google, ebay or shopify: a marketplace whose published image rules the output is checked against (and fixed to meet).'
)

/** QualitySetting without its default (the output's default is auto). */
const OutputQuality = Type.Union(QualitySetting.anyOf, {
  description: 'Encoder quality 1-100, or an auto level (auto, auto:eco, auto:good, auto:high); auto by default.'
})
const Side = Type.Integer({ minimum: 1, maximum: 16384 })
const Colour = Type.String({ pattern: '^#[0-9a-fA-F]{6}$', description: 'A colour as #rrggbb.' })
const Fill = Type.Number({
  minimum: 0.5,
  maximum: 1,
  description: "fit=pad: the share of the canvas the image's longest side takes (0.87 for Amazon)."
})
const MaxBytes = Type.Integer({
  minimum: 1024,
  maximum: 100_000_000,
  description: 'At most this many bytes: the quality is searched down first, then the size.'
})

/** One output as the customer writes it. */
export const OutputSpec = Type.Object(
  {
    name: Type.String({ pattern: OUTPUT_NAME_PATTERN, description: 'Unique in the set: [a-z0-9-]{1,40}.' }),
    format: Type.Optional(SpecFormat),
    formats: Type.Optional(Type.Array(ListedFormat, { minItems: 1, maxItems: 4, uniqueItems: true })),
    width: Type.Optional(Side),
    height: Type.Optional(Side),
    fit: Type.Optional(OutputFit),
    background: Type.Optional(Colour),
    trim: Type.Optional(
      Type.Boolean({ description: 'Trim a near-uniform light background (and make it `background`).' })
    ),
    fill: Type.Optional(Fill),
    quality: Type.Optional(OutputQuality),
    max_bytes: Type.Optional(MaxBytes),
    upscale: Type.Optional(Type.Boolean({ description: 'Whether the image may be enlarged (default false).' })),
    profile: Type.Optional(MarketplaceProfile)
  },
  { additionalProperties: false, description: 'One output of an image (docs/outputs.md).' }
)
export type OutputSpec = Static<typeof OutputSpec>

/** The `outputs` upload field: preset names and output specs (a comma list of names, or a JSON array). */
export const OutputsField = Type.Array(Type.Union([OutputPreset, OutputSpec]), {
  minItems: 1,
  description:
    'Optional: every output each image gets, as a comma-separated list of presets (web,amazon,google) or a JSON ' +
    'array of presets and OutputSpec objects. Without it, each image gets one output set by quality, format, ' +
    'max_width, max_height and mozjpeg.'
})

/** An output as a request keeps it: every field present, so the same output is always the same JSON. */
export const ResolvedOutput = Type.Object(
  {
    name: Type.String(),
    /** The preset it came from (web's variants share `web`, which groups them into srcset strings). */
    preset: Type.Union([OutputPreset, Type.Null()]),
    format: SpecFormat,
    formats: Type.Array(ListedFormat),
    width: Type.Union([Side, Type.Null()]),
    height: Type.Union([Side, Type.Null()]),
    fit: OutputFit,
    background: Colour,
    trim: Type.Boolean(),
    fill: Type.Union([Fill, Type.Null()]),
    quality: OutputQuality,
    max_bytes: Type.Union([MaxBytes, Type.Null()]),
    upscale: Type.Boolean(),
    profile: Type.Union([MarketplaceProfile, Type.Null()])
  },
  { description: 'One output of the request, with every default filled in.' }
)
export type ResolvedOutput = Static<typeof ResolvedOutput>

/** A spec with every default filled in, in ResolvedOutput's key order. */
export function resolveSpec(spec: OutputSpec, preset: OutputPreset | null = null): ResolvedOutput {
  const format = spec.format ?? 'jpeg'
  const fit = spec.fit ?? 'inside'
  return {
    name: spec.name,
    preset,
    format,
    formats: format === 'auto' ? [...(spec.formats ?? ['avif', 'webp', 'jpeg'])] : [],
    width: spec.width ?? null,
    height: spec.height ?? null,
    fit,
    background: (spec.background ?? '#ffffff').toLowerCase(),
    trim: spec.trim ?? false,
    fill: fit === 'pad' ? (spec.fill ?? 1) : null,
    quality: spec.quality ?? 'auto',
    max_bytes: spec.max_bytes ?? null,
    upscale: spec.upscale ?? false,
    profile: spec.profile ?? null
  }
}

/** `items`: the field's preset names and specs as sent (checked); `value`: them resolved, presets expanded. */
export type ReadOutputs = { ok: true; items: unknown[]; value: ResolvedOutput[] } | { ok: false; problem: string }

/**
 * The `outputs` field as it arrives in a form (text, or the texts of a repeated field): a comma list of presets
 * or a JSON array of presets and specs. Every problem names where it is (`outputs[1].width: …`).
 */
export function readOutputs(raw: unknown, expand: (preset: OutputPreset) => ResolvedOutput[]): ReadOutputs {
  const texts = Array.isArray(raw) ? raw : [raw]
  const items: unknown[] = []
  for (const text of texts) {
    if (typeof text !== 'string') return { ok: false, problem: 'outputs: expected text' }
    const trimmed = text.trim()
    if (trimmed.startsWith('[')) {
      let parsed: unknown
      try {
        parsed = JSON.parse(trimmed)
      } catch (err) {
        return { ok: false, problem: `outputs: not a JSON array (${(err as Error).message})` }
      }
      if (!Array.isArray(parsed)) return { ok: false, problem: 'outputs: not a JSON array' }
      items.push(...parsed)
    } else if (trimmed.startsWith('{')) {
      return { ok: false, problem: 'outputs: send specs as a JSON array ([{...}]), or preset names as a comma list' }
    } else items.push(...trimmed.split(',').map((s) => s.trim()))
  }
  return checkOutputs(items, expand)
}

/** Validates decoded items (preset names and specs) and resolves them, presets expanded. */
export function checkOutputs(items: unknown[], expand: (preset: OutputPreset) => ResolvedOutput[]): ReadOutputs {
  if (items.length === 0) return { ok: false, problem: 'outputs: name at least one preset or spec' }
  const resolved: ResolvedOutput[] = []
  for (const [i, item] of items.entries()) {
    const at = `outputs[${i}]`
    if (typeof item === 'string') {
      if (!Value.Check(OutputPreset, item))
        return {
          ok: false,
          problem: `${at}: unknown preset ${JSON.stringify(item.slice(0, 40))}; presets are ${presetNames().join(', ')}`
        }
      resolved.push(...expand(item))
      continue
    }
    const problem = specProblem(item)
    if (problem) return { ok: false, problem: `${at}${problem}` }
    resolved.push(resolveSpec(item as OutputSpec))
  }
  const seen = new Set<string>()
  for (const output of resolved) {
    if (seen.has(output.name))
      return { ok: false, problem: `outputs: the name "${output.name}" is used twice; names must be unique` }
    seen.add(output.name)
  }
  if (resolved.length > MAX_OUTPUTS)
    return { ok: false, problem: `outputs: ${resolved.length} outputs; at most ${MAX_OUTPUTS} per image` }
  return { ok: true, items, value: resolved }
}

const presetNames = () => OutputPreset.anyOf.map((m) => m.const)

/** What is wrong with one spec, starting with the field's path (`.width: …`), or null. */
function specProblem(item: unknown): string | null {
  if (typeof item !== 'object' || item === null || Array.isArray(item))
    return `: expected a preset name or an output spec object`
  const spec = item as Record<string, unknown>
  for (const key of Object.keys(spec)) {
    if (!(key in OutputSpec.properties))
      return `: unknown field "${key}"; a spec takes ${Object.keys(OutputSpec.properties).join(', ')}`
  }
  if (spec.name === undefined) return '.name: required'
  for (const [key, schema] of Object.entries(OutputSpec.properties)) {
    const value = spec[key]
    if (value === undefined) continue
    if (!Value.Check(schema, value)) return `.${key}: expected ${expected(key)}; got ${JSON.stringify(value)}`
  }
  if (spec.formats !== undefined && spec.format !== 'auto') return '.formats: only with format "auto"'
  if (spec.fill !== undefined && spec.fit !== 'pad') return '.fill: only with fit "pad"'
  if (spec.profile !== undefined) {
    const taken: string[] = PROFILES[spec.profile as keyof typeof PROFILES].formats
    const format = (spec.format as string | undefined) ?? 'jpeg'
    const formats = format === 'auto' ? ((spec.formats as string[] | undefined) ?? ['avif', 'webp', 'jpeg']) : [format]
    const refused = formats.find((f) => !taken.includes(f))
    if (refused) return `.format: ${spec.profile} does not take ${refused}; it takes ${taken.join(', ')}`
  }
  const boxed = spec.fit === 'cover' || spec.fit === 'contain'
  if (boxed && (spec.width === undefined || spec.height === undefined))
    return `.fit: "${spec.fit}" needs both width and height`
  return null
}

const EXPECTED: Record<string, string> = {
  name: 'lowercase letters, digits and hyphens, 1 to 40 of them',
  format: 'one of jpeg, webp, avif, png, original, auto',
  formats: 'a list of distinct jpeg, webp, avif, png',
  width: 'an integer from 1 to 16384',
  height: 'an integer from 1 to 16384',
  fit: 'one of inside, cover, contain, pad',
  background: 'a colour as #rrggbb',
  trim: 'true or false',
  fill: 'a number from 0.5 to 1',
  quality: 'an integer from 1 to 100, or one of auto, auto:eco, auto:good, auto:high',
  max_bytes: 'an integer from 1024 to 100000000',
  upscale: 'true or false',
  profile: 'one of amazon, google, ebay, shopify'
}
const expected = (key: string) => EXPECTED[key] ?? 'a valid value'
