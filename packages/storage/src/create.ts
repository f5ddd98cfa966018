import type { Config } from '@imgproc/core'
import { FileStorage } from './fs.ts'
import type { Storage } from './port.ts'

/**
 * The adapter STORAGE_URL names; S3 credentials come from the AWS default chain. The AWS SDK (about 20 MB per
 * process) is loaded only when the storage is S3.
 */
export async function createStorage(
  config: Pick<Config, 'STORAGE' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE'>
): Promise<Storage> {
  const location = config.STORAGE
  if (location.kind === 'file') return new FileStorage(location.dir)
  const { S3Storage } = await import('./s3.ts')
  return new S3Storage({
    bucket: location.bucket,
    prefix: location.prefix,
    endpoint: config.S3_ENDPOINT || undefined,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE
  })
}
