import Type, { type Static } from 'typebox'
import { OutputView } from '../requests/contracts.ts'
import type { ImageRecord, ProductRecord } from '../requests/records.ts'
import { type LinkSettings, outputView } from '../requests/view.ts'
import type { ResolvedOutput } from './spec.ts'

/**
 * GET /requests/:id/manifest.json: every output of every image, per product, with `srcset` strings for the
 * presets made for them (web), one per format. Built a product at a time, so the route can stream it.
 */

export const ManifestImage = Type.Object({
  input_url: Type.String(),
  status: Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('failed')]),
  error: Type.Union([Type.String(), Type.Null()]),
  outputs: Type.Array(OutputView),
  srcset: Type.Record(Type.String(), Type.Record(Type.String(), Type.String()), {
    description: 'Per preset (web), per format: a srcset string, widths ascending, each width once.'
  })
})
export type ManifestImage = Static<typeof ManifestImage>

export const ManifestProduct = Type.Object({
  serial: Type.Integer(),
  name: Type.String(),
  images: Type.Array(ManifestImage)
})
export type ManifestProduct = Static<typeof ManifestProduct>

export const Manifest = Type.Object(
  {
    request_id: Type.String(),
    status: Type.String(),
    outputs: Type.Array(Type.String(), { description: 'The output names, in order.' }),
    products: Type.Array(ManifestProduct)
  },
  { description: "Every output of a request's images, per product, with srcset strings for web." }
)

/**
 * `srcset` strings per preset and format: `url 480w, url 960w`, widths ascending, each width once (a srcset may not
 * repeat a descriptor: outputs that came out alike, from a narrow source, are listed once, whatever their files).
 */
export function srcsets(
  outputs: Array<{ name: string; url: string; format: string; width: number }>,
  presetOf: (name: string) => string | null
): Record<string, Record<string, string>> {
  const grouped = new Map<string, Map<string, Map<number, string>>>()
  for (const output of outputs) {
    const preset = presetOf(output.name)
    if (preset !== 'web') continue
    const formats = grouped.get(preset) ?? new Map<string, Map<number, string>>()
    grouped.set(preset, formats)
    const widths = formats.get(output.format) ?? new Map<number, string>()
    formats.set(output.format, widths)
    if (!widths.has(output.width)) widths.set(output.width, output.url)
  }
  const out: Record<string, Record<string, string>> = {}
  for (const [preset, formats] of grouped) {
    out[preset] = {}
    for (const [format, widths] of formats)
      out[preset][format] = [...widths]
        .sort((a, b) => a[0] - b[0])
        .map(([width, url]) => `${url} ${width}w`)
        .join(', ')
  }
  return out
}

export function manifestProduct(
  product: ProductRecord,
  images: ImageRecord[],
  outputs: ResolvedOutput[],
  urls: LinkSettings
): ManifestProduct {
  const presets = new Map(outputs.map((o) => [o.name, o.preset]))
  return {
    serial: product.serial,
    name: product.name,
    images: images.map((image) => {
      const views = image.status === 'succeeded' ? (image.outputs ?? []).map((o) => outputView(urls, o)) : []
      return {
        input_url: image.url,
        status: image.status,
        error: image.error ?? null,
        outputs: views,
        srcset: srcsets(views, (name) => presets.get(name) ?? null)
      }
    })
  }
}
