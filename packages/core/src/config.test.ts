import t from 'tap'
import { DEV_WEBHOOK_SECRET, defaultConcurrency, loadConfig } from './config.ts'

t.test('defaults, coercion and clear refusals', async (t) => {
  const config = loadConfig({ PORT: '8080', ALLOW_PRIVATE_NETWORKS: 'true', API_KEYS: ' a, b ,' })
  t.match(config, {
    PORT: 8080,
    MONGODB_DB: 'image_processor',
    ALLOW_PRIVATE_NETWORKS: true,
    API_KEYS: ['a', 'b'],
    PUBLIC_BASE_URL: 'http://127.0.0.1:8080'
  })
  t.equal(loadConfig({ PUBLIC_BASE_URL: 'https://img.example.com/' }).PUBLIC_BASE_URL, 'https://img.example.com')
  t.equal(loadConfig({}).ALLOW_PRIVATE_NETWORKS, false, 'private networks refused by default')
  t.throws(() => loadConfig({ PORT: 'eighty', WORKER_CONCURRENCY: '0', ALLOW_PRIVATE_NETWORKS: 'yes' }), {
    name: 'ConfigError',
    message:
      /PORT="eighty": must be integer[\s\S]*WORKER_CONCURRENCY=0: must be >= 1[\s\S]*ALLOW_PRIVATE_NETWORKS="yes": must be one of true, false$/
  })
  t.throws(() => loadConfig({ MONGODB_URI: 'postgres://x' }), /MONGODB_URI/)
  t.match(loadConfig({}), { LOG_LEVEL: 'info', WORKER_NICE: 10, SHARP_CONCURRENCY: 1 })
  t.throws(
    () => loadConfig({ LOG_LEVEL: 'verbose', WORKER_NICE: '40' }),
    /WORKER_NICE=40: must be <= 19\n {2}LOG_LEVEL="verbose": must be one of fatal, error, warn, info, debug, trace, silent$/
  )
})

t.test('storage: STORAGE_URL, with STORAGE_DIR as the filesystem shorthand', async (t) => {
  t.match(loadConfig({ STORAGE_DIR: '/srv/out' }), {
    STORAGE: { kind: 'file', dir: '/srv/out' },
    STORAGE_DIR: '/srv/out'
  })
  t.match(loadConfig({ STORAGE_URL: 'file:///var/imgproc', STORAGE_DIR: '/ignored' }), {
    STORAGE: { kind: 'file', dir: '/var/imgproc' },
    STORAGE_DIR: '/var/imgproc'
  })
  const s3 = loadConfig({
    STORAGE_URL: 's3://outputs/prod',
    S3_ENDPOINT: 'http://127.0.0.1:7070',
    S3_FORCE_PATH_STYLE: 'true',
    STORAGE_PUBLIC_URL: 'https://cdn.example.com/prod/'
  })
  t.match(s3, {
    STORAGE: { kind: 's3', bucket: 'outputs', prefix: 'prod' },
    S3_ENDPOINT: 'http://127.0.0.1:7070',
    S3_REGION: 'us-east-1',
    S3_FORCE_PATH_STYLE: true,
    STORAGE_PUBLIC_URL: 'https://cdn.example.com/prod'
  })
  t.match(loadConfig({}), { S3_FORCE_PATH_STYLE: false, STORAGE_PUBLIC_URL: '', S3_ENDPOINT: '' })
  t.throws(() => loadConfig({ STORAGE_URL: 'ftp://x/y' }), {
    name: 'ConfigError',
    message: /STORAGE_URL="ftp:\/\/x\/y": scheme "ftp" is not supported/
  })
  t.throws(
    () => loadConfig({ S3_ENDPOINT: 'minio:9000', S3_FORCE_PATH_STYLE: 'yes' }),
    /S3_ENDPOINT="minio:9000"[\s\S]*S3_FORCE_PATH_STYLE="yes": must be one of true, false/
  )
})

t.test(
  'the built-in webhook secret is refused outside development (NODE_ENV=production or a non-loopback HOST)',
  async (t) => {
    t.equal(loadConfig({}).WEBHOOK_SECRET, DEV_WEBHOOK_SECRET, 'development: loopback HOST, NODE_ENV unset')
    t.equal(loadConfig({ HOST: '::1', NODE_ENV: 'development' }).WEBHOOK_SECRET, DEV_WEBHOOK_SECRET)
    t.throws(() => loadConfig({ NODE_ENV: 'production' }), {
      name: 'ConfigError',
      message: /WEBHOOK_SECRET: the built-in development secret is refused with NODE_ENV=production/
    })
    t.throws(() => loadConfig({ HOST: '0.0.0.0' }), /WEBHOOK_SECRET: .* when listening on HOST=0\.0\.0\.0/)
    t.throws(
      () => loadConfig({ WEBHOOK_SECRET: DEV_WEBHOOK_SECRET, HOST: '10.0.0.5' }),
      /refused/,
      'set explicitly to the default is no better'
    )
    t.equal(
      loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0', WEBHOOK_SECRET: 'a-real-random-secret-0123' })
        .WEBHOOK_SECRET,
      'a-real-random-secret-0123'
    )
  }
)

t.test('bounds on what one client can hold', async (t) => {
  t.match(loadConfig({}), {
    REQUEST_TIMEOUT_MS: 300_000,
    CONNECTION_IDLE_TIMEOUT_MS: 30_000,
    MAX_CONNECTIONS_PER_CLIENT: 64,
    MAX_CONCURRENT_UPLOADS: 4,
    UPLOAD_QUEUE_MS: 2000
  })
  t.throws(
    () => loadConfig({ REQUEST_TIMEOUT_MS: '10', MAX_CONCURRENT_UPLOADS: '0' }),
    /REQUEST_TIMEOUT_MS=10: must be >= 1000[\s\S]*MAX_CONCURRENT_UPLOADS=0: must be >= 1/
  )
})

t.test(
  'the default compression concurrency is one per core, at least 2, and never past what the setting allows',
  async (t) => {
    t.equal(defaultConcurrency(2), 2)
    t.equal(defaultConcurrency(1), 2)
    t.equal(defaultConcurrency(8), 8)
    t.equal(defaultConcurrency(96), 64, 'a 96-core host still starts')
  }
)
