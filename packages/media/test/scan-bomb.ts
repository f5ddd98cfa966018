import sharp from 'sharp'

/**
 * A progressive JPEG made to cost a decoder work per scan: a plain grey picture, then `extraScans` more scans of
 * its luma AC coefficients. Each is a valid first pass (Ah=0, Al=0: coefficients already complete may be sent
 * again without breaking the progression), holding one end-of-band run over every block, so it costs a few bytes
 * to send and a pass over every block to decode. At 8192² and 12,000 scans it is 1.6 MB, the file the issue measured.
 */
export async function scanBomb(side: number, extraScans: number): Promise<Buffer> {
  const base = await sharp({ create: { width: side, height: side, channels: 3, background: '#808080' } })
    .jpeg({ progressive: true, quality: 50 })
    .toBuffer()
  const eoi = base.length - 2 // sharp writes nothing after EOI
  if (base.readUInt16BE(eoi) !== 0xffd9) throw new Error('expected EOI at the end')
  const sof = base.indexOf(Buffer.from([0xff, 0xc2]))
  const lumaId = base[sof + 10]! // SOF2: length(2) precision(1) height(2) width(2) count(1), then id of component 0
  const blocks = Math.ceil(side / 8) ** 2
  const scan = Buffer.concat([
    Buffer.from([0xff, 0xda, 0x00, 0x08, 0x01, lumaId, 0x01, 1, 63, 0x00]), // SOS: 1 component, AC table 1, Ss..Se
    endOfBandRun(blocks)
  ])
  return Buffer.concat([base.subarray(0, eoi), EOB_TABLE, ...Array<Buffer>(extraScans).fill(scan), base.subarray(eoi)])
}

// AC table 1: the 15 end-of-band symbols EOB0..EOB14 (r<<4), each a 4-bit code equal to r.
const EOB_TABLE = Buffer.from([
  0xff,
  0xc4,
  0x00,
  34,
  0x11,
  ...[0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ...Array.from({ length: 15 }, (_, r) => r << 4)
])

/** Entropy-coded data for one run of `blocks` empty blocks: EOBr symbols with r extra bits, stuffed and padded. */
function endOfBandRun(blocks: number): Buffer {
  const bits: number[] = []
  const put = (value: number, n: number) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >> i) & 1)
  }
  for (let left = blocks; left > 0; ) {
    const r = Math.min(14, Math.floor(Math.log2(left)))
    const run = Math.min(left, 2 ** (r + 1) - 1)
    put(r, 4)
    put(run - 2 ** r, r)
    left -= run
  }
  while (bits.length % 8) bits.push(1)
  const bytes: number[] = []
  for (let i = 0; i < bits.length; i += 8) {
    const byte = bits.slice(i, i + 8).reduce((acc, bit) => (acc << 1) | bit, 0)
    bytes.push(byte)
    if (byte === 0xff) bytes.push(0x00)
  }
  return Buffer.from(bytes)
}
