// The S3 adapter is not here: createStorage loads it (and the AWS SDK) only for s3:// storage; `@imgproc/storage/s3`.
export * from './create.ts'
export * from './fs.ts'
export * from './outage.ts'
export * from './port.ts'
