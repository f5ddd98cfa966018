import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_OPTIONS } from '@imgproc/core'
import sharp from 'sharp'
import t from 'tap'
import { scanBomb } from '../../test/scan-bomb.ts'
import { compressImage, DEFAULT_COMPRESS_BOUNDS } from './sharp.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')
const read = (name: string) => readFileSync(path.join(corpus, name))
const defaults = DEFAULT_OPTIONS
const MAX_PIXELS = 100_000_000

t.test('ordinary photos shrink, keep their format and decode', async (t) => {
  for (const [name, format] of [
    ['2569067123_aca715a2ee_o.jpg', 'jpeg'],
    ['flowers.jpeg', 'jpeg'],
    ['astronaut.png', 'png'],
    ['coffee.png', 'png'],
    ['chelsea.png', 'png'],
    ['rocket.jpg', 'jpeg'],
    ['4.webp', 'webp'],
    ['sdr_cosmos12920_cicp1-13-6_yuv444_full_qp10.avif', 'heif']
  ]) {
    const input = read(name!)
    const result = await compressImage(input, defaults, MAX_PIXELS)
    t.ok(result.data.length < input.length, `${name}: ${input.length} → ${result.data.length} bytes`)
    const meta = await sharp(result.data).metadata()
    t.equal(meta.format, format, `${name} keeps its format`)
    t.equal(meta.width, result.stats.width_in, `${name} keeps its size`)
  }
})

t.test('EXIF orientations 1-8 all come out upright, like Landscape_1', async (t) => {
  const reference = await sharp(read('Landscape_1.jpg')).resize(24, 18, { fit: 'fill' }).greyscale().raw().toBuffer()
  for (let n = 1; n <= 8; n++) {
    const result = await compressImage(read(`Landscape_${n}.jpg`), defaults, MAX_PIXELS)
    const meta = await sharp(result.data).metadata()
    t.same([meta.width, meta.height], [600, 450], `Landscape_${n} is landscape`)
    t.notOk(meta.orientation && meta.orientation !== 1, `Landscape_${n} has no orientation tag left`)
    const pixels = await sharp(result.data).resize(24, 18, { fit: 'fill' }).greyscale().raw().toBuffer()
    const meanDiff = pixels.reduce((sum, v, i) => sum + Math.abs(v - reference[i]!), 0) / pixels.length
    t.ok(meanDiff < 12, `Landscape_${n} matches the upright reference (mean difference ${meanDiff.toFixed(1)})`)
  }
})

t.test('CMYK becomes sRGB; 16-bit becomes 8-bit; alpha survives', async (t) => {
  const cmyk = await sharp(
    (await compressImage(read('Channel_digital_image_CMYK_color.jpg'), defaults, MAX_PIXELS)).data
  ).metadata()
  t.equal(cmyk.space, 'srgb')
  t.equal(cmyk.channels, 3)
  for (const name of ['alpha-premultiply-2048x1536-paper.png', '16-bit-grey-alpha.png']) {
    const meta = await sharp((await compressImage(read(name), defaults, MAX_PIXELS)).data).metadata()
    t.ok(meta.hasAlpha, `${name} keeps alpha`)
    t.equal(meta.depth, 'uchar', `${name} is 8-bit`)
  }
})

t.test('animated GIF keeps its frames', async (t) => {
  const result = await compressImage(read('animated-loop-3.gif'), defaults, MAX_PIXELS)
  const meta = await sharp(result.data, { animated: true }).metadata()
  t.equal(meta.pages, 10)
  const webp = await compressImage(read('animated-loop-3.gif'), { ...defaults, format: 'webp' }, MAX_PIXELS)
  t.equal((await sharp(webp.data, { animated: true }).metadata()).pages, 10, 'animated WebP output too')
})

t.test('corrupt, truncated and bomb inputs fail with a reason', async (t) => {
  await t.rejects(compressImage(read('corrupt-header.jpg'), defaults, MAX_PIXELS), {
    name: 'ImageError',
    message: /not a supported image: .*premature end/
  })
  await t.rejects(compressImage(read('truncated.jpg'), defaults, MAX_PIXELS), {
    name: 'ImageError',
    kind: 'corrupt_image',
    message: /could not decode image/
  })
  await t.rejects(
    compressImage(read('truncated.jpg'), { ...defaults, quality: 'auto' }, MAX_PIXELS),
    { name: 'ImageError', kind: 'corrupt_image' },
    'auto decodes first: the same kind'
  )
  const before = process.memoryUsage().rss
  await t.rejects(compressImage(read('giant-image.jpg'), defaults, MAX_PIXELS), {
    name: 'ImageError',
    message: /20000x14000 = 280.0 megapixels; the limit is 100.0 megapixels/
  })
  t.ok(process.memoryUsage().rss - before < 50e6, 'refused before decoding (no 280 MB allocation)')
  await t.rejects(compressImage(Buffer.from('<html><body>not an image</body></html>'), defaults, MAX_PIXELS), {
    message: /not a supported image/
  })
})

t.test('a progressive JPEG with more scans than MAX_JPEG_SCANS is refused before decoding', async (t) => {
  // 8192² with 1,000 scans: about 15 s of decoding (the 12,000 took 45 s and 43 CPU-seconds), 0.5 MB.
  const bomb = await scanBomb(8192, 1000)
  const started = performance.now()
  await t.rejects(compressImage(bomb, defaults, MAX_PIXELS), {
    name: 'ImageError',
    kind: 'scan_limit',
    message: /progressive JPEG has more than 100 scans \(MAX_JPEG_SCANS\)/
  })
  t.comment(`refused in ${(performance.now() - started).toFixed(0)} ms`)
  // At the limit it is decoded like any image: the count is what is refused, not the trick.
  const atLimit = await scanBomb(1024, DEFAULT_COMPRESS_BOUNDS.maxScans - 10)
  t.match(await compressImage(atLimit, defaults, MAX_PIXELS), { stats: { width_out: 1024 } })
})

t.test('a pipeline that runs past its time limit fails as time_limit, naming the settings', async (t) => {
  // 36 MP to WebP takes over 10 s on one core; the limit here is one. (libwebp reports progress, so it is cut.)
  const input = await sharp(read('Landscape_1.jpg')).resize(6000, 6000, { fit: 'fill' }).jpeg().toBuffer()
  const bounds = { ...DEFAULT_COMPRESS_BOUNDS, timeoutSeconds: 1, timeoutSecondsPerMegapixel: 0 }
  const started = performance.now()
  await t.rejects(compressImage(input, { ...defaults, format: 'webp', quality: 80 }, MAX_PIXELS, bounds), {
    name: 'ImageError',
    kind: 'time_limit',
    message: /compression took longer than its 1 s limit \(COMPRESS_TIMEOUT_S \+ COMPRESS_TIMEOUT_S_PER_MP/
  })
  t.comment(`stopped after ${(performance.now() - started).toFixed(0)} ms`)
})

t.test('an output larger than its format allows is refused by name, not decoded and called corrupt', async (t) => {
  const wide = await sharp({ create: { width: 17_000, height: 24, channels: 3, background: '#808080' } })
    .png()
    .toBuffer()
  for (const quality of [50, 'auto'] as const) {
    await t.rejects(
      compressImage(wide, { ...defaults, format: 'webp', quality }, MAX_PIXELS),
      { name: 'ImageError', kind: 'dimension_limit', message: /17000x24; WEBP allows at most 16383/ },
      `webp, quality ${quality}`
    )
  }
  await t.rejects(compressImage(wide, { ...defaults, format: 'avif' }, MAX_PIXELS), {
    name: 'ImageError',
    kind: 'dimension_limit'
  })
  t.equal(
    (await compressImage(wide, { ...defaults, format: 'webp', max_width: 16_000 }, MAX_PIXELS)).stats.width_out,
    16_000,
    'fitted, it encodes'
  )
  t.equal(
    (await compressImage(wide, { ...defaults, format: 'jpeg' }, MAX_PIXELS)).stats.width_out,
    17_000,
    'JPEG takes it'
  )
})

t.test('options: format conversion, resize without enlarging, mozjpeg', async (t) => {
  const webp = await compressImage(read('coffee.png'), { ...defaults, format: 'webp', max_width: 300 }, MAX_PIXELS)
  t.match(webp, { extension: 'webp', stats: { width_out: 300, height_out: 200, format_in: 'png', format_out: 'webp' } })
  const small = await compressImage(read('rocket.jpg'), { ...defaults, max_width: 5000 }, MAX_PIXELS)
  t.equal(small.stats.width_out, 640, 'never enlarges')
  const plain = await compressImage(read('2569067123_aca715a2ee_o.jpg'), defaults, MAX_PIXELS)
  const moz = await compressImage(read('2569067123_aca715a2ee_o.jpg'), { ...defaults, mozjpeg: true }, MAX_PIXELS)
  t.ok(moz.data.length < plain.data.length, `mozjpeg ${moz.data.length} < default ${plain.data.length}`)
})

t.test('quality=auto reports the chosen quality and the score; fixed qualities report neither', async (t) => {
  const auto = await compressImage(read('chelsea.png'), { ...defaults, format: 'jpeg', quality: 'auto' }, MAX_PIXELS)
  t.match(auto.stats, { format_out: 'jpeg', quality: Number, score: Number })
  t.ok(auto.stats.score! >= 70, `auto (= auto:good) reaches 70: ${auto.stats.score} at q${auto.stats.quality}`)
  t.match(auto.auto, { floor: 70, met: true })
  const eco = await compressImage(read('chelsea.png'), { ...defaults, format: 'jpeg', quality: 'auto:eco' }, MAX_PIXELS)
  t.ok(
    eco.data.length < auto.data.length && eco.stats.quality! < auto.stats.quality!,
    `auto:eco is smaller (${eco.data.length} < ${auto.data.length} bytes)`
  )
  const fixed = await compressImage(read('chelsea.png'), { ...defaults, format: 'jpeg', quality: 50 }, MAX_PIXELS)
  t.equal(fixed.stats.score, undefined)
  t.equal(fixed.stats.quality, undefined)
  t.equal(fixed.auto, undefined)
})

t.test(
  'quality=auto, WebP: colour in single pixels the default conversion loses reaches the floor with the sharp one',
  async (t) => {
    // rocket.jpg (a night launch: sparks, thin coloured edges) tops out at 76.9 as WebP with the default RGB→YUV.
    const high = await compressImage(
      read('rocket.jpg'),
      { ...defaults, format: 'webp', quality: 'auto:high' },
      MAX_PIXELS
    )
    t.match(high.auto, { floor: 80, met: true })
    t.ok(high.stats.score! >= 80 && high.stats.quality! < 100, `scores ${high.stats.score} at q${high.stats.quality}`)
  }
)

t.test('quality=auto leaves animations at a fixed quality and scores nothing there', async (t) => {
  const webp = await compressImage(
    read('animated-loop-3.gif'),
    { ...defaults, format: 'webp', quality: 'auto:high' },
    MAX_PIXELS
  )
  t.equal((await sharp(webp.data, { animated: true }).metadata()).pages, 10)
  t.equal(webp.auto, undefined)
  t.equal(webp.stats.score, undefined)
})

t.test('JPEG output flattens transparency on white', async (t) => {
  const input = await sharp(read('alpha-premultiply-2048x1536-paper.png')).raw().toBuffer({ resolveWithObject: true })
  t.equal(input.data[3], 0, 'the input corner is transparent')
  const result = await compressImage(
    read('alpha-premultiply-2048x1536-paper.png'),
    { ...defaults, format: 'jpeg', max_width: 256 },
    MAX_PIXELS
  )
  const { data, info } = await sharp(result.data).raw().toBuffer({ resolveWithObject: true })
  const corner = [data[0], data[1], data[2]]
  t.equal(info.channels, 3)
  t.ok(
    corner.every((v) => v! > 240),
    `the transparent corner is white, not black: ${corner}`
  )
})
