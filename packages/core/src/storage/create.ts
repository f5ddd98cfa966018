import type { Config } from '../config.ts'
import { FileStorage } from './fs.ts'
import { S3Storage } from './s3.ts'
import type { Storage } from './port.ts'

/** The adapter STORAGE_URL names; S3 credentials come from the AWS default chain. */
export function createStorage(config: Pick<Config, 'STORAGE' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_FORCE_PATH_STYLE'>): Storage {
  const location = config.STORAGE
  if (location.kind === 'file') return new FileStorage(location.dir)
  return new S3Storage({
    bucket: location.bucket,
    prefix: location.prefix,
    endpoint: config.S3_ENDPOINT || undefined,
    region: config.S3_REGION,
    forcePathStyle: config.S3_FORCE_PATH_STYLE
  })
}
