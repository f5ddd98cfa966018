import type { EncodeFormat } from '@imgproc/core'

/**
 * Where a search in an output set starts, from the searches made before it in the same set. A format's quality
 * at one of an image's sizes predicts it at the others (on the bench images, web's widths of one format landed
 * within ~10 qualities of each other, while a cold search starts near the floor + 5, up to 60 qualities away),
 * so the proxy search starts there and brackets the floor in fewer trials. A hint only moves the first proxy
 * trial: every decision after it, and what is delivered, are the search's own (search.ts).
 */

/** What one search of the set delivered: its format, floor, size and the quality that reached the floor. */
export interface Found {
  format: EncodeFormat
  floor: number
  pixels: number
  quality: number
}

/**
 * The first proxy quality for a search of `format` at `floor` on an image of `pixels`: the quality found for the
 * same format and floor at the nearest size (by ratio of pixels), or undefined when the set has none.
 */
export function hintFor(
  found: readonly Found[],
  format: EncodeFormat,
  floor: number,
  pixels: number
): number | undefined {
  let best: Found | undefined
  let distance = Infinity
  for (const f of found) {
    if (f.format !== format || f.floor !== floor) continue
    const d = Math.abs(Math.log(f.pixels / pixels))
    if (d < distance) [best, distance] = [f, d]
  }
  return best?.quality
}

/** The searches of one set so far: what each found, for the hints of the ones after it. */
export class SearchHints {
  readonly found: Found[] = []

  /** Remembers a search's result; only one that reached its floor predicts where another's crossing is. */
  record(found: Found, met: boolean): void {
    if (met) this.found.push(found)
  }

  hint(format: EncodeFormat, floor: number, pixels: number): number | undefined {
    return hintFor(this.found, format, floor, pixels)
  }
}
