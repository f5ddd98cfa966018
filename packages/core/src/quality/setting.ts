import Type, { type Static } from 'typebox'

/** SSIMULACRA2 floors of the auto levels: 60 ≈ web "medium-high", 70 high, 80 very high (90 is visually lossless). */
export const QUALITY_FLOORS = { 'auto:eco': 60, 'auto:good': 70, 'auto:high': 80 } as const
export type AutoLevel = keyof typeof QUALITY_FLOORS

/** The auto levels by name: `auto` is `auto:good`. */
export const AutoQuality = Type.Union([
  Type.Literal('auto'),
  Type.Literal('auto:eco'),
  Type.Literal('auto:good'),
  Type.Literal('auto:high')
])

export const QualitySetting = Type.Union([Type.Integer({ minimum: 1, maximum: 100 }), AutoQuality], {
  default: 50,
  description:
    'Encoder quality 1-100, or auto: per image, the smallest output whose SSIMULACRA2 score reaches a floor — ' +
    'auto:eco ≥ 60, auto:good ≥ 70 (auto means auto:good), auto:high ≥ 80. Lossless outputs (GIF) ignore it.'
})
export type QualitySetting = Static<typeof QualitySetting>

export type ParsedQuality = { kind: 'fixed'; quality: number } | { kind: 'auto'; level: AutoLevel; floor: number }

export function parseQuality(setting: QualitySetting): ParsedQuality {
  if (typeof setting === 'number') return { kind: 'fixed', quality: setting }
  const level: AutoLevel = setting === 'auto' ? 'auto:good' : setting
  return { kind: 'auto', level, floor: QUALITY_FLOORS[level] }
}
