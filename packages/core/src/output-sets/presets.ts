import { PROFILES, type ProfileName } from './compliance.ts'
import {
  checkOutputs,
  type OutputPreset,
  type ReadOutputs,
  type ResolvedOutput,
  readOutputs,
  resolveSpec
} from './spec.ts'

/**
 * The presets: `web` (responsive variants for srcset) and one output per marketplace, checked against its rules.
 * docs/outputs.md describes each and cites the marketplace's rules.
 */
export const WEB_WIDTHS = [480, 960, 1600] as const
export const WEB_FORMATS = ['avif', 'webp', 'jpeg'] as const

/** Marketplace outputs: high quality (eBay's own API warns below JPEG 90), within the marketplace's file size. */
const MARKETPLACE_QUALITY = 90

function marketplace(profile: ProfileName, extra: Partial<Parameters<typeof resolveSpec>[0]> = {}): ResolvedOutput {
  const rules = PROFILES[profile]
  return resolveSpec(
    {
      name: profile,
      format: 'jpeg',
      quality: MARKETPLACE_QUALITY,
      max_bytes: rules.maxBytes,
      profile,
      ...extra
    },
    profile
  )
}

export function expandPreset(preset: OutputPreset): ResolvedOutput[] {
  switch (preset) {
    case 'web':
      return WEB_WIDTHS.flatMap((width) =>
        WEB_FORMATS.map((format) =>
          resolveSpec({ name: `web-${width}-${format}`, format, width, fit: 'inside', quality: 'auto' }, 'web')
        )
      )
    case 'amazon': {
      // A square white canvas, the trimmed product centred at 87 %: above the 85 % minimum, with a margin.
      const side = PROFILES.amazon.limits.maxSide
      const fill = PROFILES.amazon.whiteBackground!.fill
      return [marketplace('amazon', { width: side, height: side, fit: 'pad', fill, trim: true })]
    }
    case 'google':
    case 'ebay':
    case 'shopify':
      return [marketplace(preset)]
  }
}

/** The `outputs` upload field, presets expanded. */
export const readOutputsField = (raw: unknown): ReadOutputs => readOutputs(raw, expandPreset)
/** Items already decoded (preset names and specs), presets expanded. */
export const resolveOutputs = (items: unknown[]): ReadOutputs => checkOutputs(items, expandPreset)
