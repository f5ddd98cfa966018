import os from 'node:os'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'
import { parseStorageUrl, type StorageLocation } from './outputs/location.ts'

/** Development only: anyone who has read this file can sign events with it. */
export const DEV_WEBHOOK_SECRET = 'dev-secret-change-me-0123456789'

// One schema for every knob: defaults, coercion from strings and the error text all come from here.
const Bool = Type.Enum(['true', 'false'], { default: 'false' })

/**
 * Images compressed at once by default: one per core, at least 2, within the setting's own maximum. Two per core
 * gained a few per cent on JPEGs but cost the quality search about 100 MB more at peak (docs/benchmark.md).
 */
export const defaultConcurrency = (cores: number) => Math.min(64, Math.max(2, cores))

export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  MONGODB_URI: Type.String({ pattern: '^mongodb(\\+srv)?://', default: 'mongodb://127.0.0.1:27017/' }),
  MONGODB_DB: Type.String({ pattern: '^[A-Za-z0-9_-]{1,63}$', default: 'image_processor' }),
  STORAGE_DIR: Type.String({ minLength: 1, default: './data/storage' }),
  // file:///path or s3://bucket/prefix; empty means the directory STORAGE_DIR.
  STORAGE_URL: Type.String({ default: '' }),
  S3_ENDPOINT: Type.String({ pattern: '^(https?://[^\\s]+)?$', default: '' }),
  S3_REGION: Type.String({ pattern: '^[a-z0-9-]+$', default: 'us-east-1' }),
  S3_FORCE_PATH_STYLE: Bool,
  // A CDN or public-bucket base that maps to the storage root: output image URLs then point there, not at the API.
  STORAGE_PUBLIC_URL: Type.String({ pattern: '^(https?://[^\\s]+)?$', default: '' }),
  PUBLIC_BASE_URL: Type.String({ pattern: '^(https?://[^\\s]+)?$', default: '' }),
  // The built-in default is public (it is in this file): refused outside development, see exposedWithDevSecret.
  WEBHOOK_SECRET: Type.String({ minLength: 16, default: DEV_WEBHOOK_SECRET }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: defaultConcurrency(os.availableParallelism()) }),
  COMPRESS_MEGAPIXELS: Type.Integer({ minimum: 1, maximum: 10_000, default: 24 }),
  WORKER_ID: Type.String({ minLength: 1, default: `${os.hostname()}-${process.pid}` }),
  WORKER_HTTP_PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 0 }),
  POLL_INTERVAL_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 500 }),
  IDLE_SCAN_MS: Type.Integer({ minimum: 10, maximum: 600_000, default: 10_000 }),
  LEASE_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  PROGRESS_FLUSH_MS: Type.Integer({ minimum: 10, maximum: 60_000, default: 500 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: 10_000 }),
  ALLOW_PRIVATE_NETWORKS: Bool,
  API_KEYS: Type.String({ default: '' }),
  // 128 MiB: a million rows of a serial, a name and one ~80-character URL (about 100 bytes a row), with room.
  MAX_CSV_BYTES: Type.Integer({ minimum: 1, default: 128 * 1024 * 1024 }),
  // A whole request (headers and body) must arrive within this, or it is answered 408 and closed: no drip-fed uploads.
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 300_000 }),
  // A connection with no traffic either way for this long is closed.
  CONNECTION_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
  // Open connections per client address; more are answered 503 and closed. Behind a proxy, all clients share one.
  MAX_CONNECTIONS_PER_CLIENT: Type.Integer({ minimum: 1, maximum: 100_000, default: 64 }),
  // Uploads parsed at once; the next ones wait up to UPLOAD_QUEUE_MS for a turn, then get 503 with Retry-After.
  MAX_CONCURRENT_UPLOADS: Type.Integer({ minimum: 1, maximum: 1024, default: 4 }),
  UPLOAD_QUEUE_MS: Type.Integer({ minimum: 0, maximum: 60_000, default: 2_000 }),
  // Of those, uploads one tenant (API key, or client address without keys) may have read at once; the next waits
  // UPLOAD_QUEUE_MS for its own turn, then gets 429. Nobody can hold every turn with slow bodies of their own.
  MAX_UPLOADS_PER_TENANT: Type.Integer({ minimum: 1, maximum: 1024, default: 1 }),
  // An upload's body must bring at least this many bytes per second, averaged over every UPLOAD_RATE_WINDOW_MS
  // (the first window is its grace), or it is answered 408 and closed: a drip-fed body gives its turn back early.
  UPLOAD_MIN_BYTES_PER_S: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 1024 }),
  UPLOAD_RATE_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 600_000, default: 10_000 }),
  // A request whose creation has not completed this long after it began (its API died) is removed by the API's
  // sweep, unseen; one whose creation completed but whose work units were not yet released has them released.
  UPLOAD_STAGING_TIMEOUT_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 120_000 }),
  MAX_IMAGES_PER_REQUEST: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1_000_000 }),
  MAX_URL_LENGTH: Type.Integer({ minimum: 16, maximum: 8192, default: 2048 }),
  MAX_URLS_PER_ROW: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  MAX_URL_MENTIONS: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 2_000_000 }),
  STATUS_MAX_BYTES: Type.Integer({ minimum: 16_384, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
  METRICS_TOKEN: Type.String({ default: '' }),
  QUOTA_REQUESTS_PER_HOUR: Type.Integer({ minimum: 0, default: 0 }),
  QUOTA_IMAGES_PER_DAY: Type.Integer({ minimum: 0, default: 0 }),
  OUTPUT_URL_TTL_S: Type.Integer({ minimum: 0, maximum: 31_536_000, default: 0 }),
  // With OUTPUT_URL_TTL_S set: how long the image links inside an output CSV stay valid (30 days, as retention).
  OUTPUT_CSV_URL_TTL_S: Type.Integer({ minimum: 1, maximum: 31_536_000, default: 2_592_000 }),
  DOWNLOAD_PER_HOST_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
  DOWNLOAD_PER_HOST_PER_SECOND: Type.Number({ minimum: 0, maximum: 10_000, default: 50 }),
  MAX_DOWNLOAD_BYTES: Type.Integer({ minimum: 1, default: 50 * 1024 * 1024 }),
  MAX_INPUT_PIXELS: Type.Integer({ minimum: 1, default: 100_000_000 }),
  // Progressive JPEG scans an input may have (real encoders write at most about 10; each costs a pass over the image).
  MAX_JPEG_SCANS: Type.Integer({ minimum: 1, maximum: 10_000, default: 100 }),
  // One image's sharp pipeline (decode, resize, encode) may run this long plus the per-megapixel share before the
  // image fails as time_limit (100 MP as AVIF takes about 100 s on one core); 0: no limit.
  COMPRESS_TIMEOUT_S: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  COMPRESS_TIMEOUT_S_PER_MP: Type.Number({ minimum: 0, maximum: 600, default: 3 }),
  DOWNLOAD_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 30_000 }),
  DOWNLOAD_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
  // A 429 or 503 with Retry-After is retried no sooner than asked; asked for longer than this, the image fails.
  DOWNLOAD_MAX_RETRY_AFTER_S: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  MAX_REDIRECTS: Type.Integer({ minimum: 0, maximum: 20, default: 5 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 8 }),
  WEBHOOK_BACKOFF_MS: Type.Integer({ minimum: 1, default: 5_000 }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000 }),
  MAX_CLAIMS: Type.Integer({ minimum: 1, maximum: 100, default: 5 }),
  // A storage write that fails with an outage is retried in place this long (the image is not downloaded again);
  // past it the work unit saves what it finished and is handed back, to be tried again after a growing pause.
  STORAGE_RETRY_S: Type.Integer({ minimum: 0, maximum: 3600, default: 30 }),
  WORK_UNIT_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 25 }),
  WORKER_UNITS: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  RETENTION_DAYS: Type.Number({ minimum: 0, maximum: 36_500, default: 30 }),
  RETENTION_SWEEP_MS: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 3_600_000 }),
  WORKER_NICE: Type.Integer({ minimum: -20, maximum: 19, default: 10 }),
  SHARP_CONCURRENCY: Type.Integer({ minimum: 0, maximum: 64, default: 1 }),
  LOG_LEVEL: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' })
})

type Raw = Static<typeof ConfigSchema>
export type Config = Omit<Raw, 'ALLOW_PRIVATE_NETWORKS' | 'API_KEYS' | 'S3_FORCE_PATH_STYLE'> & {
  ALLOW_PRIVATE_NETWORKS: boolean
  API_KEYS: string[]
  S3_FORCE_PATH_STYLE: boolean
  /** STORAGE_URL (or STORAGE_DIR) parsed. */
  STORAGE: StorageLocation
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Reads the known keys from `env`, applies defaults and refuses bad values with one message naming each. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') known[key] = value.trim()
  }
  const raw = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, known))
  const errors = [...Value.Errors(ConfigSchema, raw)]
  if (errors.length > 0) {
    const lines = errors.map(
      (e) => `${e.instancePath.slice(1)}=${JSON.stringify(valueAt(raw, e.instancePath))}: ${describe(e)}`
    )
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`)
  }
  const config = raw as Raw
  const exposed = exposedWithDevSecret(config, env)
  if (exposed) {
    throw new ConfigError(
      `invalid configuration:\n  WEBHOOK_SECRET: the built-in development secret is refused ${exposed}; set a random one (e.g. openssl rand -hex 32)`
    )
  }
  let storage: StorageLocation
  try {
    storage = parseStorageUrl(config.STORAGE_URL, config.STORAGE_DIR)
  } catch (err) {
    throw new ConfigError(
      `invalid configuration:\n  STORAGE_URL=${JSON.stringify(config.STORAGE_URL)}: ${(err as Error).message}`
    )
  }
  return {
    ...config,
    PUBLIC_BASE_URL: (config.PUBLIC_BASE_URL || `http://${config.HOST}:${config.PORT}`).replace(/\/+$/, ''),
    ALLOW_PRIVATE_NETWORKS: config.ALLOW_PRIVATE_NETWORKS === 'true',
    API_KEYS: config.API_KEYS.split(',')
      .map((k) => k.trim())
      .filter(Boolean),
    S3_FORCE_PATH_STYLE: config.S3_FORCE_PATH_STYLE === 'true',
    STORAGE_PUBLIC_URL: config.STORAGE_PUBLIC_URL.replace(/\/+$/, ''),
    STORAGE: storage,
    // Code that still takes a directory sees the one STORAGE_URL names.
    STORAGE_DIR: storage.kind === 'file' ? storage.dir : config.STORAGE_DIR
  }
}

/**
 * Development is signalled by two things at once: NODE_ENV is not "production" (the Dockerfiles set it) and HOST
 * is a loopback address (nothing else can reach the port). Anything else is treated as exposed, and the public
 * default secret would let anyone forge signed events. Returns why it is refused, or null.
 */
export function exposedWithDevSecret(
  config: Pick<Raw, 'WEBHOOK_SECRET' | 'HOST'>,
  env: NodeJS.ProcessEnv
): string | null {
  if (config.WEBHOOK_SECRET !== DEV_WEBHOOK_SECRET) return null
  if (env.NODE_ENV === 'production') return 'with NODE_ENV=production'
  if (!isLoopbackHost(config.HOST)) return `when listening on HOST=${config.HOST} (not loopback)`
  return null
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** For process entry points: a bad configuration ends the process with the message and exit code 1, no stack trace. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadConfig(env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(err.message)
    process.exit(1)
  }
}

/** A start-up the operator must fix (a store the process cannot use): start functions throw it, entry points exit. */
export class StartupError extends Error {
  override name = 'StartupError'
}

/** For process entry points: a StartupError ends the process with its message and exit code 1, no stack trace. */
export function exitOnStartupError(err: unknown): never {
  if (!(err instanceof StartupError)) throw err
  console.error(err.message)
  process.exit(1)
}

function describe(error: { message: string; params?: unknown }): string {
  const allowed = (error.params as { allowedValues?: unknown[] } | undefined)?.allowedValues
  return allowed ? `must be one of ${allowed.join(', ')}` : error.message
}

function valueAt(obj: unknown, pointer: string): unknown {
  return (obj as Record<string, unknown>)[pointer.slice(1)]
}
