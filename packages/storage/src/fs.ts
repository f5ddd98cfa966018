import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { access, constants, type FileHandle, link, mkdir, open, readdir, rm, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type ObjectMeta, objectMeta } from '@imgproc/core'
import {
  assertKey,
  assertPrefix,
  type ByteRange,
  type ObjectInfo,
  type ObjectRead,
  type PutResult,
  type Storage,
  StorageError
} from './port.ts'

const TEMP_SUFFIX = '.tmp'

/**
 * The embedded default: one directory. Objects are written to a temporary name beside their target and then
 * hard-linked into place, which (unlike rename) refuses to replace an existing object. A directory keeps no
 * metadata: `describe` (core's objectMeta, the function every writer passes to put) gives it from the key, and put
 * refuses metadata it could not give back.
 */
export class FileStorage implements Storage {
  readonly description: string

  constructor(
    private readonly root: string,
    private readonly describe: (key: string) => ObjectMeta = objectMeta
  ) {
    this.description = `file://${root}`
  }

  async put(key: string, body: Buffer | Readable, meta: ObjectMeta): Promise<PutResult> {
    const target = this.path(key)
    const kept = this.describe(key)
    if (meta.contentType !== kept.contentType || meta.cacheControl !== kept.cacheControl)
      throw new Error(`a directory keeps no metadata: ${key} is always served as ${JSON.stringify(kept)}`)
    // A body that fails (a stream fed from the database) is the caller's failure, not the directory's.
    let bodyError: unknown
    if (!Buffer.isBuffer(body))
      body.once('error', (err) => {
        bodyError = err
      })
    const tmp = `${target}.${randomUUID()}${TEMP_SUFFIX}`
    try {
      await mkdir(path.dirname(target), { recursive: true })
      if (Buffer.isBuffer(body)) await writeFile(tmp, body, { flag: 'wx' })
      else await pipeline(body, createWriteStream(tmp, { flags: 'wx' }))
      await link(tmp, target)
      return 'created'
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return 'exists'
      throw bodyError ?? this.failure(err, `writing ${key}`)
    } finally {
      // unlink, not rm: rm's directory handling costs an lstat and a deal of JavaScript per image.
      await unlink(tmp).catch(() => undefined)
    }
  }

  async read(key: string, range?: ByteRange): Promise<ObjectRead | null> {
    // Open first and stat the open file: a retention sweep removing it meanwhile cannot break a started response.
    const handle = await this.open(key)
    if (!handle) return null
    try {
      const stat = await handle.stat()
      if (!stat.isFile()) return await handle.close().then(() => null)
      const bytes = range ? { start: range.start, end: range.end } : {}
      return { info: this.info(key, stat), body: handle.createReadStream({ ...bytes, autoClose: true }) }
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw this.failure(err, `reading ${key}`)
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    const handle = await this.open(key)
    if (!handle) return null
    try {
      const stat = await handle.stat()
      return stat.isFile() ? this.info(key, stat) : null
    } catch (err) {
      throw this.failure(err, `reading ${key}`)
    } finally {
      await handle.close().catch(() => undefined)
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    const dir = this.path(assertPrefix(prefix).slice(0, -1))
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
    await rm(dir, { recursive: true, force: true }).catch((err) => {
      throw this.failure(err, `deleting ${prefix}`)
    })
    return entries.filter((e) => e.isFile() && !e.name.endsWith(TEMP_SUFFIX)).length
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true }).catch((err) => {
      throw this.failure(err, `deleting ${key}`)
    })
  }

  async removeStale(keys: string[]): Promise<number> {
    let removed = 0
    // A temp file is `<target>.<uuid>.tmp` beside its target: one listing per folder, matched by target name.
    for (const [dir, targets] of groupBy(
      keys.map((k) => this.path(assertKey(k))),
      path.dirname
    )) {
      const names = await readdir(dir).catch(() => [] as string[])
      const stale = names.filter(
        (n) => n.endsWith(TEMP_SUFFIX) && targets.some((t) => n.startsWith(`${path.basename(t)}.`))
      )
      await Promise.all(stale.map((n) => rm(path.join(dir, n), { force: true }))).catch((err) => {
        throw this.failure(err, 'removing unfinished writes')
      })
      removed += stale.length
    }
    return removed
  }

  async check(options: { write?: boolean } = {}): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true })
      await access(this.root, constants.R_OK | (options.write ? constants.W_OK : 0))
      if (options.write) {
        // Not empty: an empty file needs no space, so it would pass on a full disk.
        const probe = path.join(this.root, `.check-${randomUUID()}${TEMP_SUFFIX}`)
        try {
          await writeFile(probe, 'probe')
        } finally {
          await rm(probe, { force: true }).catch(() => undefined)
        }
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? ''
      const full = FULL.has(code)
      throw new StorageError(
        full ? 'full' : 'not-writable',
        `storage directory ${this.root} is ${full ? 'full' : `not ${options.write ? 'writable' : 'readable'}`}: ${(err as Error).message}`,
        { cause: err }
      )
    }
  }

  async close(): Promise<void> {}

  /** The open file, or null when there is no such object. */
  private async open(key: string): Promise<FileHandle | null> {
    try {
      return await open(this.path(key), 'r')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null
      throw this.failure(err, `reading ${key}`)
    }
  }

  /**
   * A failure of the filesystem (any errno: a full disk, a read-only or unmounted volume, an I/O error) as the
   * StorageError it is; anything else (a bug of ours) passes through as it is.
   */
  private failure(err: unknown, doing: string): unknown {
    const e = err as NodeJS.ErrnoException
    if (err instanceof StorageError || !/^E[A-Z0-9]+$/.test(e.code ?? '')) return err
    const code = e.code!
    const kind = FULL.has(code) ? 'full' : REFUSED.has(code) ? 'not-writable' : 'failed'
    const advice = {
      full: '; free space (or raise the quota) on that volume',
      'not-writable': '; check that the volume is mounted read-write and the worker may write to it',
      failed: ''
    }[kind]
    return new StorageError(kind, `storage directory ${this.root} failed while ${doing} (${e.message})${advice}`, {
      cause: err
    })
  }

  private path(key: string): string {
    return path.join(this.root, assertKey(key))
  }

  private info(key: string, stat: { size: number; mtime: Date; ino: number }): ObjectInfo {
    // Objects never change, so size, inode and time identify the content as well as a hash would.
    return {
      ...this.describe(key),
      size: stat.size,
      etag: `"${stat.size.toString(16)}-${stat.ino.toString(16)}-${stat.mtime.getTime().toString(16)}"`,
      lastModified: stat.mtime
    }
  }
}

const FULL = new Set(['ENOSPC', 'EDQUOT'])
const REFUSED = new Set(['EACCES', 'EPERM', 'EROFS'])

function groupBy<T>(items: T[], by: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) groups.set(by(item), [...(groups.get(by(item)) ?? []), item])
  return groups
}
