import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ObjectMeta } from '@imgproc/core'
import { isStorageOutage, type PutResult, type Storage, type StorageError, type StorageErrorKind } from './port.ts'

/** The storage failing since `since`: what the latest failed call said. */
export interface StorageFailing {
  kind: StorageErrorKind
  reason: string
  since: Date
}

/**
 * What a process has seen of its storage: failing from the first outage until a call succeeds again. A start-up
 * style probe cannot tell this (a disk with room for a probe may have none for an image); the work's own calls can.
 */
export class StorageHealth {
  private current: StorageFailing | null = null
  /** The outage was seen on a write: only a write that works ends it (a full disk still serves reads). */
  private onWrites = false

  /** `onFailure` hears of every failed call; `began` is true for the first one of an outage. */
  constructor(private readonly onFailure: (err: StorageError, began: boolean) => void = () => undefined) {}

  get failing(): StorageFailing | null {
    return this.current
  }

  /** How long the storage has been failing, in ms; 0 while it works. */
  failingForMs(now = Date.now()): number {
    return this.current ? now - this.current.since.getTime() : 0
  }

  failed(err: StorageError, call: { write: boolean }, now = new Date()): void {
    const began = this.current === null
    this.onWrites = (!began && this.onWrites) || call.write
    this.current = { kind: err.kind, reason: err.message, since: this.current?.since ?? now }
    this.onFailure(err, began)
  }

  succeeded(call: { write: boolean }): void {
    if (call.write || !this.onWrites) this.current = null
  }
}

/** `storage`, with the outcome of every call that touches objects reported to `health`. Only a put is a write:
 * deleting works on a full disk. */
export function watchedStorage(storage: Storage, health: StorageHealth): Storage {
  const watch = async <T>(call: Promise<T>, kind: { write: boolean }): Promise<T> => {
    try {
      const result = await call
      health.succeeded(kind)
      return result
    } catch (err) {
      if (isStorageOutage(err)) health.failed(err, kind)
      throw err
    }
  }
  const [write, read] = [{ write: true }, { write: false }]
  return {
    ...delegating(storage),
    put: (key, body, meta) => watch(storage.put(key, body, meta), write),
    read: (key, range) => watch(storage.read(key, range), read),
    stat: (key) => watch(storage.stat(key), read),
    deletePrefix: (prefix) => watch(storage.deletePrefix(prefix), read),
    delete: (key) => watch(storage.delete(key), read),
    removeStale: (keys) => watch(storage.removeStale(keys), read)
  }
}

export interface PutRetry {
  /** How long one put keeps retrying an outage before giving up with it. */
  waitMs: number
  /** Stops the retries at once (the work is over or being handed back). */
  signal: AbortSignal
  /** First pause between tries; doubled each time, up to 5 s. */
  firstPauseMs?: number
}

/**
 * `storage` whose puts of in-memory bodies ride out a short outage in place: the work they store (a download, a
 * compression) is not thrown away and redone for a storage blip. A stream cannot be sent twice, so its put is
 * tried once.
 */
export function retryingPuts(storage: Storage, retry: PutRetry): Storage {
  const put = async (key: string, body: Buffer | Readable, meta: ObjectMeta): Promise<PutResult> => {
    const giveUpAt = Date.now() + retry.waitMs
    for (let pause = retry.firstPauseMs ?? 250; ; pause = Math.min(5000, pause * 2)) {
      try {
        return await storage.put(key, body, meta)
      } catch (err) {
        const left = giveUpAt - Date.now()
        if (!Buffer.isBuffer(body) || !isStorageOutage(err) || left <= 0 || retry.signal.aborted) throw err
        await sleep(Math.min(pause, left), undefined, { signal: retry.signal }).catch(() => undefined)
        if (retry.signal.aborted) throw err
      }
    }
  }
  return withPut(storage, put)
}

/** `storage` with its put replaced by `put` (which may call the original): for what a caller notes or checks. */
export function withPut(storage: Storage, put: Storage['put']): Storage {
  return { ...delegating(storage), put }
}

function delegating(storage: Storage): Storage {
  return {
    description: storage.description,
    put: (key, body, meta) => storage.put(key, body, meta),
    read: (key, range) => storage.read(key, range),
    stat: (key) => storage.stat(key),
    deletePrefix: (prefix) => storage.deletePrefix(prefix),
    delete: (key) => storage.delete(key),
    removeStale: (keys) => storage.removeStale(keys),
    check: (options) => storage.check(options),
    close: () => storage.close()
  }
}
