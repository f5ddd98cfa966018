/**
 * A storage directory whose writes can be made to fail for real, for outage tests. As root (CI) it is a small
 * tmpfs that `fill` fills to the last byte, so writes fail with ENOSPC; otherwise (root would ignore permissions)
 * a directory that `fill` makes read-only, so writes fail with EACCES. Either way the test runs; it is never skipped.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdtemp, open, readdir, rm, rmdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const FILLER = '.filler'

export interface SmallDisk {
  dir: string
  /** What a write meets once the disk is filled: `full` (the tmpfs) or `not-writable` (the read-only directory). */
  kind: 'full' | 'not-writable'
  /** From now on no write fits. */
  fill(): Promise<void>
  /** Room again. */
  free(): Promise<void>
  close(): Promise<void>
}

export async function smallDisk(sizeBytes = 32 * 1024 * 1024): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(tmpdir(), 'imgproc-disk-'))
  if (process.getuid?.() !== 0) return readOnlyDir(dir)
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0755`, 'tmpfs', dir])
  const filler = path.join(dir, FILLER)
  return {
    dir,
    kind: 'full',
    async fill() {
      // Big writes, then ever smaller ones, until not one more byte fits.
      const file = await open(filler, 'a')
      try {
        for (let chunk = 1024 * 1024; chunk >= 1; ) {
          try {
            await file.write(Buffer.alloc(chunk))
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
            chunk = Math.floor(chunk / 2)
          }
        }
      } finally {
        await file.close()
      }
    },
    async free() {
      await rm(filler, { force: true })
    },
    async close() {
      await run('umount', ['-l', dir]).catch(() => undefined)
      await rmdir(dir).catch(() => undefined)
    }
  }
}

function readOnlyDir(dir: string): SmallDisk {
  // Every directory below too: a request's folder made before the fill must refuse new files as well.
  const setMode = async (mode: number) => {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true })
    for (const e of entries) if (e.isDirectory()) await chmod(path.join(e.parentPath, e.name), mode)
    await chmod(dir, mode)
  }
  return {
    dir,
    kind: 'not-writable',
    fill: () => setMode(0o555),
    free: () => setMode(0o755),
    async close() {
      await setMode(0o755).catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    }
  }
}
