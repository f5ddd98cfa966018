import type { ImageRecord } from '@imgproc/core'
import type { ImageDeps, ImageJob } from './job.ts'
import { download, makeOutputs } from './make.ts'
import { processWithReuse } from './reuse.ts'

export type { ImageDeps, ImageJob, ReuseScope } from './job.ts'

/**
 * Download → compress → store one image. Problems with the image or its URL become a failed record with a
 * reason; anything else (storage full, a bug) is thrown, because it is not the customer's image's fault.
 */
export async function processImage(job: ImageJob, deps: ImageDeps): Promise<ImageRecord> {
  if (job.reuse) return processWithReuse({ ...job, reuse: job.reuse }, deps)
  const fetched = await download(job.url, deps)
  if ('failed' in fetched) return fetched.failed
  // A 304 nobody asked for has no body: the image then fails to decode, as any empty answer does.
  const input = fetched.answer.status === 'ok' ? fetched.answer.body : Buffer.alloc(0)
  return makeOutputs(job, input, fetched.download_ms, deps)
}
