import {
  type Box,
  backgroundPlan,
  type Compliance,
  type EncodeFormat,
  fillOf,
  judge,
  NO_LIMITS,
  type Placement,
  PROFILES,
  placeImage,
  type ResolvedOutput
} from '@imgproc/core'
import type Sharp from 'sharp'
import { compressTimeLimit, type InputFacts, originalFormat } from '../compress/plan.ts'
import {
  admitInput,
  type CompressBounds,
  DEFAULT_COMPRESS_BOUNDS,
  ImageError,
  sharpLib,
  sharpReason
} from '../compress/sharp.ts'
import type { SetSearches } from '../quality/auto.ts'
import { SearchHints } from '../quality/hints.ts'
import { type RawImage, rawInput } from '../quality/pixels.ts'
import { SharedReferences } from '../quality/references.ts'
import { analyseBackground, type BackgroundAnalysis, hasTransparency, paintBackground } from './background.ts'
import { decode } from './decode.ts'
import { type Encoded, encodeOutput } from './encode.ts'
import { makingOrder } from './order.ts'
import { pictureKey } from './pictures.ts'

/**
 * An image's output set: decoded once to raw pixels (upright, sRGB, 8-bit), and every output derived from those
 * pixels with `clone()`. Outputs that come out the same (web's widths on a narrow source) are made once; the
 * same scaled pixels serve every format at one size. The decisions are pure (core's geometry and compliance,
 * background.ts, max-bytes.ts); this module only runs sharp.
 */

export { OUTPUT_SET_MAX_PIXELS } from './decode.ts'

export interface MadeOutput {
  output: ResolvedOutput
  /** Index in the set of the output whose bytes this one shares (itself when it made them). */
  same: number
  data: Buffer
  format: EncodeFormat
  width: number
  height: number
  quality?: number
  score?: number
  compliance?: Compliance
}

export interface OutputSetResult {
  facts: InputFacts
  outputs: MadeOutput[]
  compress_ms: number
}

/** Makes every output of `outputs` from `input`. Failures of the image (not an image, too large…) are ImageErrors. */
export async function makeOutputSet(
  input: Buffer,
  outputs: ResolvedOutput[],
  maxPixels: number,
  bounds: CompressBounds = DEFAULT_COMPRESS_BOUNDS,
  admitted?: InputFacts
): Promise<OutputSetResult> {
  const started = performance.now()
  const facts = admitted ?? (await admitInput(input, maxPixels, bounds))
  const sharp = await sharpLib()
  const timeLimit = compressTimeLimit(facts, bounds)
  const raw = await decode(sharp, input, facts, maxPixels, timeLimit)
  const set = new SetMaker(sharp, raw, facts, timeLimit)
  try {
    return { facts, outputs: await makeEach(set, outputs), compress_ms: Math.round(performance.now() - started) }
  } finally {
    // The references' WebAssembly memories go back to the pool for the next image.
    await set.references.release()
  }
}

/**
 * Each distinct output of the set made once, the largest first (order.ts), and every output recorded in the
 * request's order; `same` points a repeat at the first output with its plan.
 */
async function makeEach(set: SetMaker, outputs: ResolvedOutput[]): Promise<MadeOutput[]> {
  const plans = outputs.map((output) => set.plan(output))
  const firstOf = new Map<string, number>()
  for (const [i, plan] of plans.entries()) if (!firstOf.has(plan.key)) firstOf.set(plan.key, i)
  const encoded = new Map<number, Encoded>()
  for (const i of makingOrder(plans.map((plan) => plan.placement.canvas))) {
    if (firstOf.get(plans[i]!.key) !== i) continue
    const output = outputs[i]!
    encoded.set(
      i,
      await set.make(output, plans[i]!).catch((err) => {
        throw err instanceof ImageError
          ? err
          : new ImageError('encode_failed', `could not encode output "${output.name}": ${sharpReason(err)}`)
      })
    )
  }
  const made: MadeOutput[] = []
  for (const [i, output] of outputs.entries()) {
    const plan = plans[i]!
    const same = firstOf.get(plan.key)!
    if (same !== i) {
      const first = made[same]!
      made.push({ ...first, output, same, ...(plan.rules && { compliance: set.judge(output, plan, first) }) })
      continue
    }
    const e = encoded.get(i)!
    const result: MadeOutput = {
      output,
      same,
      data: e.data,
      format: e.format,
      width: e.width,
      height: e.height,
      quality: e.quality,
      ...(e.score !== undefined && { score: e.score })
    }
    if (plan.rules) result.compliance = set.judge(output, plan, result, e.fitBytes)
    made.push(result)
  }
  return made
}

interface OutputPlan {
  key: string
  rules: (typeof PROFILES)[keyof typeof PROFILES] | null
  formats: EncodeFormat[]
  whiten: boolean
  region: Box
  placement: Placement
  /** Scaled down further than the output asked, to the marketplace's limits. */
  limited: boolean
  padded: boolean
}

/** The pixels one image's outputs are derived from, and what has been derived so far. */
class SetMaker {
  private analysis: BackgroundAnalysis | null = null
  private painted = new Map<string, RawImage>()
  private scaled = new Map<string, Promise<RawImage>>()
  readonly transparent: boolean
  /** Shared by the set's quality searches: the references per size (released with the set)... */
  readonly references = new SharedReferences()
  /** ...and what each search found, for the searches of the same picture at other sizes (`searchesOf`). */
  private hints = new Map<string, SearchHints>()

  constructor(
    private readonly sharp: typeof Sharp,
    private readonly raw: RawImage,
    private readonly facts: InputFacts,
    private readonly timeLimit: number
  ) {
    this.transparent = hasTransparency(raw)
  }

  private background(): BackgroundAnalysis {
    this.analysis ??= analyseBackground(this.raw)
    return this.analysis
  }

  plan(output: ResolvedOutput): OutputPlan {
    const rules = output.profile ? PROFILES[output.profile] : null
    const wantsBackground = output.trim || Boolean(rules?.whiteBackground)
    const analysis = wantsBackground ? this.background() : null
    const background = backgroundPlan(rules, output.trim, analysis?.facts ?? null)
    const frame = { left: 0, top: 0, width: this.raw.width, height: this.raw.height }
    const region = background.trim && analysis ? analysis.box : frame
    // A pad around an untrimmed image (busy, or already compliant) would add a border: fitted inside instead.
    const fit = output.fit === 'pad' && output.trim && !background.trim ? 'inside' : output.fit
    const request = { width: output.width, height: output.height, fit, fill: output.fill, upscale: output.upscale }
    const placement = placeImage(region, request, rules?.limits ?? NO_LIMITS)
    const limited = placement.scale < placeImage(region, request).scale - 1e-9
    const formats: EncodeFormat[] =
      output.format === 'auto'
        ? output.formats
        : [output.format === 'original' ? originalFormat(this.facts.format) : output.format]
    const key = JSON.stringify([
      formats,
      background.whiten,
      region,
      placement,
      output.background,
      output.quality,
      output.max_bytes
    ])
    return { key, rules, formats, whiten: background.whiten, region, placement, limited, padded: fit === 'pad' }
  }

  judge(
    output: ResolvedOutput,
    plan: OutputPlan,
    made: Pick<MadeOutput, 'width' | 'height' | 'data' | 'format'>,
    fitBytes: Encoded['fitBytes'] = null
  ): Compliance {
    return judge(output.profile!, {
      width: made.width,
      height: made.height,
      bytes: made.data.length,
      format: made.format,
      source: {
        width: this.raw.width,
        height: this.raw.height,
        cmyk: this.facts.space === 'cmyk',
        transparent: this.transparent
      },
      background: plan.rules?.whiteBackground ? (this.analysis?.facts ?? null) : null,
      whitened: plan.whiten,
      padded: plan.padded ? fillOf(plan.placement) : null,
      limited: plan.limited,
      fitBytes
    })
  }

  /** The output's pixels at its size (shared by every format asking for the same), then its encode. */
  async make(output: ResolvedOutput, plan: OutputPlan): Promise<Encoded> {
    const candidates: Encoded[] = []
    for (const format of plan.formats) {
      const flatten = format === 'jpeg' && this.raw.channels % 2 === 0
      const pixels = await this.pixels(output, plan, flatten)
      candidates.push(
        await encodeOutput(this.sharp, pixels, format, output.quality, output.max_bytes, this.searchesOf(output, plan))
      )
    }
    // format=auto: the smallest of those that met the quality (all of them when none did).
    const met = candidates.filter((c) => c.met)
    return (met.length > 0 ? met : candidates).reduce((a, b) => (b.data.length < a.data.length ? b : a))
  }

  /** What an output's searches share: the set's references, and the hints of its picture's other sizes. */
  private searchesOf(output: ResolvedOutput, plan: OutputPlan): SetSearches {
    const { whiten, region, placement } = plan
    const picture = pictureKey({
      whiten,
      region,
      background: output.background,
      fit: output.fit,
      canvas: placement.canvas
    })
    let hints = this.hints.get(picture)
    if (!hints) {
      hints = new SearchHints()
      this.hints.set(picture, hints)
    }
    return { references: this.references, hints }
  }

  private source(output: ResolvedOutput, whiten: boolean): RawImage {
    if (!whiten) return this.raw
    const analysis = this.background()
    let painted = this.painted.get(output.background)
    if (!painted) {
      painted = paintBackground(this.raw, analysis.mask!, hexColour(output.background))
      this.painted.set(output.background, painted)
    }
    return painted
  }

  private pixels(output: ResolvedOutput, plan: OutputPlan, flatten: boolean): Promise<RawImage> {
    const key = JSON.stringify([plan.whiten, plan.region, plan.placement, flatten, output.background])
    let pixels = this.scaled.get(key)
    if (!pixels) {
      pixels = this.derive(this.source(output, plan.whiten), plan, flatten, output.background)
      this.scaled.set(key, pixels)
    }
    return pixels
  }

  private async derive(source: RawImage, plan: OutputPlan, flatten: boolean, background: string): Promise<RawImage> {
    const { region, placement } = plan
    let pipeline = rawInput(this.sharp, source).clone().timeout({ seconds: this.timeLimit })
    if (region.width !== source.width || region.height !== source.height) pipeline = pipeline.extract(region)
    if (flatten) pipeline = pipeline.flatten({ background })
    pipeline = pipeline.resize(placement.resize.width, placement.resize.height, { fit: 'fill' })
    const { canvas, left, top, resize } = placement
    if (left < 0 || top < 0)
      pipeline = pipeline.extract({ left: -left, top: -top, width: canvas.width, height: canvas.height })
    else if (canvas.width > resize.width || canvas.height > resize.height)
      pipeline = pipeline.extend({
        left,
        top,
        right: canvas.width - resize.width - left,
        bottom: canvas.height - resize.height - top,
        background
      })
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true })
    return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
  }
}

function hexColour(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16)
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255]
}
