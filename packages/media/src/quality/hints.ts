import type { EncodeFormat } from '@imgproc/core'
import type { Trial } from './search.ts'

/**
 * What a search in an output set takes from the searches made before it in the same set (the largest size
 * first, outputs/order.ts). A format's quality at one of an image's sizes predicts it at the others (on the bench
 * images, web's widths of one format landed within ~10 qualities of each other, while a cold search starts near
 * the floor + 5, up to 60 qualities away). So a later size's search is carried (auto.ts `carrySearch`): its first
 * full-size trial goes to that quality, with no proxy search of its own, and any further one steps on the
 * other size's proxy curve. A hint only places trials: what is delivered is still the smallest of the search's
 * own full-size trials that reached the floor, scored on its own bytes (search.ts).
 */

/** What one search of the set delivered: its format, floor, size and the quality that reached the floor. */
export interface Found {
  format: EncodeFormat
  floor: number
  pixels: number
  quality: number
  /** The encoder setting delivered (the format's alternative or not). */
  alternative: boolean
  /** The proxy curve its full-size trials were placed on (quality → score), for a carried search to step on. */
  curve: Trial[]
}

/**
 * The hint for a search of `format` at `floor` on an image of `pixels`: what the set's search of the same format
 * and floor at the nearest size (by ratio of pixels) found, or undefined when the set has none.
 */
export function hintFor(
  found: readonly Found[],
  format: EncodeFormat,
  floor: number,
  pixels: number
): Found | undefined {
  let best: Found | undefined
  let distance = Infinity
  for (const f of found) {
    if (f.format !== format || f.floor !== floor) continue
    const d = Math.abs(Math.log(f.pixels / pixels))
    if (d < distance) [best, distance] = [f, d]
  }
  return best
}

/** The searches of one set so far: what each found, for the hints of the ones after it. */
export class SearchHints {
  readonly found: Found[] = []

  /** Remembers a search's result; only one that reached its floor predicts where another's crossing is. */
  record(found: Found, met: boolean): void {
    if (met) this.found.push(found)
  }

  hint(format: EncodeFormat, floor: number, pixels: number): Found | undefined {
    return hintFor(this.found, format, floor, pixels)
  }
}
