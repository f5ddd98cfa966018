/**
 * The number of scans (SOS markers) in a JPEG, read from its marker structure without decoding anything. A
 * progressive decoder passes over every block once per scan before it produces a pixel, and libvips's time limit
 * cannot interrupt that, so a file with thousands of scans is refused by this count instead. Counting stops
 * after `stopAfter` scans: the rest of a refused file is never read. Malformed structure just ends the count (the
 * decoder reports it properly).
 */
export function countJpegScans(jpeg: Buffer, stopAfter = Infinity): number {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) return 0
  let scans = 0
  let at = 2
  while (at + 1 < jpeg.length && scans < stopAfter) {
    if (jpeg[at] !== 0xff) return scans
    const marker = jpeg[at + 1]!
    if (marker === 0xff) {
      at += 1 // fill byte before a marker
      continue
    }
    if (marker === 0xd9) return scans // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2 // TEM and RSTn stand alone
      continue
    }
    if (at + 3 >= jpeg.length) return scans
    at += 2 + jpeg.readUInt16BE(at + 2)
    if (marker !== 0xda) continue
    scans += 1
    at = entropyEnd(jpeg, at)
  }
  return scans
}

/** Where a scan's entropy-coded data ends: the next 0xFF that starts a marker (not a stuffed 0x00 or a RSTn). */
function entropyEnd(jpeg: Buffer, from: number): number {
  let at = from
  for (;;) {
    at = jpeg.indexOf(0xff, at)
    if (at < 0 || at + 1 >= jpeg.length) return jpeg.length
    const next = jpeg[at + 1]!
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) at += 2
    else if (next === 0xff) at += 1
    else return at
  }
}
