import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { scorerFor } from '@imgproc/ssimulacra2'
import sharp from 'sharp'
import t from 'tap'
import { decodeFlat, flattenRaw, type RawImage, rawInput } from './pixels.ts'
import { prepareReferences, SharedReferences } from './references.ts'

const corpus =
  process.env.IMGPROC_CORPUS_DIR ??
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../shared/corpus/images')

async function decoded(width: number): Promise<RawImage> {
  const { data, info } = await sharp(readFileSync(path.join(corpus, 'flowers.jpeg')))
    .resize(width)
    .raw()
    .toBuffer({ resolveWithObject: true })
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] }
}

t.test('a set prepares the references of one size once, for every format searched at it', async (t) => {
  const shared = new SharedReferences()
  const small = await decoded(480)
  const large = await decoded(960)
  const first = await shared.of(sharp, small)
  t.equal(await shared.of(sharp, small), first, 'the second format at 480 px gets the same references')
  t.not(await shared.of(sharp, large), first, 'another size has its own')
  await shared.release()
})

t.test('a shared whole-image scorer scores as one prepared for a single search', async (t) => {
  // So sharing cannot change what a search measures, nor what it delivers.
  const raw = await decoded(480)
  const references = await prepareReferences(sharp, raw)
  const own = scorerFor(await flattenRaw(sharp, raw), true)
  t.ok(references.wholeScorer, 'a 480 px image is scored whole')
  for (const quality of [30, 60]) {
    const encoded = await rawInput(sharp, raw).webp({ quality }).toBuffer()
    const distorted = await decodeFlat(sharp, encoded)
    t.equal(references.wholeScorer!(distorted), own(distorted), `WebP q${quality}`)
    t.equal(references.wholeScorer!(distorted), own(distorted), 'and again, after other trials')
  }
  own.release()
  references.release()
})

t.test('a sampled size shares its proxy, not its full-size scorer', async (t) => {
  const references = await prepareReferences(sharp, await decoded(1600))
  t.equal(references.wholeScorer, null, 'its windows are chosen by each format’s own errors')
  t.equal(references.tiled, true)
  t.same([references.proxy.width, references.proxy.height], [256, 256], 'the mosaic')
  references.release()
})
