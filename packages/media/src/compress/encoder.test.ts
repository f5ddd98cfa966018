import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import t from 'tap'
import {
  alternativeOf,
  autoSearchable,
  canAnimate,
  type Encoding,
  encodeAs,
  encoderOptions,
  maxOutputSide
} from './encoder.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

const at = (format: Encoding['format'], setting: Encoding['setting'], mozjpeg = false): Encoding => ({
  format,
  quality: 60,
  mozjpeg,
  setting
})

t.test('fixed qualities: each format with its own options', async (t) => {
  t.same(encoderOptions(at('jpeg', 'fixed')), { format: 'jpeg', options: { quality: 60, mozjpeg: false } })
  t.same(encoderOptions(at('jpeg', 'fixed', true)), { format: 'jpeg', options: { quality: 60, mozjpeg: true } })
  t.same(encoderOptions(at('png', 'fixed')), {
    format: 'png',
    options: { quality: 60, palette: true, effort: 4, compressionLevel: 9 }
  })
  t.same(encoderOptions(at('webp', 'fixed')), { format: 'webp', options: { quality: 60, effort: 4 } })
  t.same(encoderOptions(at('gif', 'fixed')), { format: 'gif', options: { effort: 7 } }, 'GIF has no quality')
  t.same(encoderOptions(at('avif', 'fixed')), { format: 'avif', options: { quality: 60, effort: 2 } })
})

t.test("auto's default setting: JPEG's table 5 with libjpeg-turbo, the fixed options elsewhere", async (t) => {
  t.same(encoderOptions(at('jpeg', 'auto')).options, { quality: 60, mozjpeg: false, quantisationTable: 5 })
  t.same(encoderOptions(at('jpeg', 'auto', true)).options, { quality: 60, mozjpeg: true }, 'mozjpeg keeps its tables')
  for (const format of ['png', 'webp', 'avif'] as const)
    t.same(encoderOptions(at(format, 'auto')), encoderOptions(at(format, 'fixed')), format)
})

t.test("the alternative setting: JPEG's 4:4:4 on the default table, WebP's sharp YUV; none elsewhere", async (t) => {
  t.same(encoderOptions(at('jpeg', 'alternative')).options, {
    quality: 60,
    mozjpeg: false,
    chromaSubsampling: '4:4:4'
  })
  t.same(encoderOptions(at('webp', 'alternative')).options, { quality: 60, effort: 4, smartSubsample: true })
  t.same(alternativeOf('jpeg'), { above: 88, saving: 0 })
  t.same(alternativeOf('webp'), { above: 78, saving: 0.05 }, 'a dearer encode must save 5%')
  for (const format of ['png', 'gif', 'avif'] as const) {
    t.equal(alternativeOf(format), null, `${format}: none`)
    t.throws(() => encoderOptions(at(format, 'alternative')), RangeError)
  }
})

t.test('what each encoder writes: the longest side, animations, whether auto searches it', async (t) => {
  t.same(
    (['jpeg', 'png', 'webp', 'gif', 'avif'] as const).map((f) => [maxOutputSide(f), canAnimate(f), autoSearchable(f)]),
    [
      [65_535, false, true],
      [Infinity, false, true],
      [16_383, true, true],
      [65_535, true, false],
      [16_384, false, true]
    ]
  )
})

t.test('encodeAs ends a sharp pipeline in those options', async (t) => {
  const { data, info } = await sharp(readFileSync(path.join(corpus, 'astronaut.png')))
    .raw()
    .toBuffer({ resolveWithObject: true })
  const input = () => sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
  const auto = await encodeAs(input(), at('jpeg', 'auto')).toBuffer()
  const direct = await input().jpeg({ quality: 60, quantisationTable: 5 }).toBuffer()
  t.ok(auto.equals(direct), "encoded with auto's JPEG settings (4:2:0, table 5)")
  const alternative = await encodeAs(input(), at('jpeg', 'alternative')).toBuffer()
  t.equal((await sharp(alternative).metadata()).chromaSubsampling, '4:4:4', 'the alternative setting: 4:4:4')
  const webp = await encodeAs(input(), at('webp', 'fixed')).toBuffer()
  t.equal((await sharp(webp).metadata()).format, 'webp')
})
