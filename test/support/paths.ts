import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where the tests find the project and its shared image corpus. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
export const CORPUS = process.env.IMGPROC_CORPUS_DIR ?? path.resolve(ROOT, '../shared/corpus/images')
