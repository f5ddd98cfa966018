import { objectMeta } from '@imgproc/core'
import t from 'tap'
import { smallDisk } from '../../../test/support/small-disk.ts'
import { FileStorage } from './fs.ts'
import { retryingPuts, StorageHealth, watchedStorage } from './outage.ts'
import { isStorageOutage, type Storage, type StorageError } from './port.ts'

// A real filesystem that fills up: a 1 MiB tmpfs as root, a directory made read-only otherwise.
const disk = await smallDisk(1024 * 1024)
t.teardown(() => disk.close())
const storage: Storage = new FileStorage(disk.dir)
const image = Buffer.alloc(20_000, 1)
const key = (name: string) => `0b1c/${name}.png`
const put = (s: Storage, name: string) => s.put(key(name), image, objectMeta(key(name)))

t.test('a full or read-only disk is a storage outage with a reason, not a raw errno', async (t) => {
  await disk.fill()
  t.teardown(() => disk.free())
  const err = (await put(storage, 'a').catch((e) => e)) as StorageError
  t.ok(isStorageOutage(err), `an outage (${err.kind})`)
  t.match(err, { name: 'StorageError', kind: disk.kind })
  t.match(err.message, disk.dir, 'it names the directory')
  t.match(err.message, disk.kind === 'full' ? /ENOSPC.*free space/ : /EACCES.*read-write/, 'and what to do')
  await t.rejects(
    storage.check({ write: true }),
    { name: 'StorageError', kind: disk.kind },
    'the write check sees it too'
  )
  t.equal(await storage.stat(key('a')), null, 'nothing half-written is visible')
  await disk.free()
  t.equal(await put(storage, 'a'), 'created', 'with room again, the same write works')
})

t.test('a put rides out a short outage in place, gives up after its wait, and stops when told', async (t) => {
  await disk.fill()
  const freed = new Promise((r) => setTimeout(r, 400)).then(() => disk.free())
  const patient = retryingPuts(storage, { waitMs: 10_000, signal: new AbortController().signal, firstPauseMs: 50 })
  const started = Date.now()
  t.equal(await put(patient, 'b'), 'created', 'stored once the disk had room')
  t.ok(Date.now() - started >= 350, `after waiting ${Date.now() - started} ms`)
  await freed

  await disk.fill()
  t.teardown(() => disk.free())
  const brief = retryingPuts(storage, { waitMs: 300, signal: new AbortController().signal, firstPauseMs: 50 })
  const at = Date.now()
  await t.rejects(put(brief, 'c'), { name: 'StorageError', kind: disk.kind }, 'past its wait, the outage is thrown')
  t.ok(Date.now() - at >= 300 && Date.now() - at < 3000, `after ${Date.now() - at} ms`)

  const stop = new AbortController()
  const stopped = retryingPuts(storage, { waitMs: 60_000, signal: stop.signal, firstPauseMs: 50 })
  setTimeout(() => stop.abort(), 100)
  const since = Date.now()
  await t.rejects(put(stopped, 'd'), { name: 'StorageError', kind: disk.kind }, 'aborted: the outage is thrown at once')
  t.ok(Date.now() - since < 2000, `after ${Date.now() - since} ms, not the 60 s wait`)
})

t.test('the work’s calls tell a process its storage is failing, and when it works again', async (t) => {
  const heard: Array<[string, boolean]> = []
  const health = new StorageHealth((err, began) => heard.push([err.kind, began]))
  const watched = watchedStorage(storage, health)
  t.equal(health.failing, null)
  await disk.fill()
  t.teardown(() => disk.free())
  await t.rejects(put(watched, 'e'))
  await t.rejects(put(watched, 'f'))
  t.match(health.failing, { kind: disk.kind, reason: /failed while writing 0b1c\/f\.png/, since: Date })
  t.same(heard, [
    [disk.kind, true],
    [disk.kind, false]
  ])
  t.ok(health.failingForMs() >= 0)
  t.equal(await watched.stat(key('e')), null, 'a read that works does not say the writes do')
  await disk.free()
  t.equal(await put(watched, 'e'), 'created')
  t.equal(health.failing, null, 'a write that works ends the outage')
  t.equal(health.failingForMs(), 0)
})
