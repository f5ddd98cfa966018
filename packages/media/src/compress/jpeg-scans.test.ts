import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import t from 'tap'
import { scanBomb } from '../../test/scan-bomb.ts'
import { countJpegScans } from './jpeg-scans.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

t.test('baseline files have one scan; progressive ones as many as their encoder wrote', async (t) => {
  const photo = readFileSync(path.join(corpus, 'Landscape_1.jpg'))
  t.equal(countJpegScans(photo), 1)
  t.equal(countJpegScans(await sharp(photo).jpeg({ progressive: true }).toBuffer()), 10, "libjpeg's simple script")
  const moz = countJpegScans(await sharp(photo).jpeg({ mozjpeg: true }).toBuffer())
  t.ok(moz > 1 && moz <= 12, `mozjpeg's optimised scans: ${moz}`)
  const grey = await sharp(photo).toColourspace('b-w').jpeg({ progressive: true }).toBuffer()
  t.equal(countJpegScans(grey), 6, 'one component')
})

t.test('restart markers, stuffed bytes and fill bytes inside scans are not scans', async (t) => {
  // Random pixels make entropy data full of stuffed 0xFF00; restart intervals add RSTn inside each scan.
  const noise = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256)), {
    raw: { width: 64, height: 64, channels: 3 }
  })
    .jpeg({ progressive: true, quality: 100 })
    .toBuffer()
  t.ok(noise.includes(Buffer.from([0xff, 0x00])), 'has stuffed bytes')
  t.equal(countJpegScans(noise), 10)
  const withRestarts = Buffer.concat([noise.subarray(0, 2), Buffer.from([0xff, 0xdd, 0, 4, 0, 1]), noise.subarray(2)])
  t.equal(countJpegScans(withRestarts), 10, 'a DRI segment is not a scan')
  const filled = Buffer.concat([noise.subarray(0, 2), Buffer.from([0xff, 0xff, 0xff]), noise.subarray(3)])
  t.equal(countJpegScans(filled), 10, 'fill bytes before a marker')
})

t.test('the scan bomb is counted in milliseconds, and counting stops at the limit', async (t) => {
  const bomb = await scanBomb(2048, 5000)
  const started = performance.now()
  t.equal(countJpegScans(bomb), 5010)
  t.comment(`counted 5010 scans in ${(performance.now() - started).toFixed(1)} ms`)
  t.equal(countJpegScans(bomb, 101), 101)
})

t.test('not a JPEG, or cut short: whatever was seen', async (t) => {
  t.equal(countJpegScans(Buffer.from('<html>')), 0)
  t.equal(countJpegScans(Buffer.alloc(0)), 0)
  const bomb = await scanBomb(64, 20) // each extra scan: a 10-byte header and 2 bytes of data
  t.equal(countJpegScans(bomb), 30)
  t.equal(countJpegScans(bomb.subarray(0, bomb.length - 2 - 5 * 12)), 25, 'no EOI: the scans up to the end')
  t.equal(countJpegScans(bomb.subarray(0, bomb.length - 2 - 5 * 12 - 6)), 25, 'cut inside the last scan: counted')
})
