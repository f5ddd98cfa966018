import { createHash } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import type { SourceValidators } from '../reuse/decision.ts'
import type { OutputEntry } from '../reuse/entries.ts'
import { UnitReuse } from '../reuse/unit.ts'
import {
  checkedKeys,
  entriesToInsert,
  type IndexWrite,
  type KeysFound,
  keysOf,
  refusedWrites,
  type SourceWrite,
  sourceWrites
} from '../reuse/writes.ts'
import { insertFree } from './mongo.ts'

/** `sources`: one tenant's source URL, its validators and the SHA-256 of the bytes they describe (unique by _id). */
interface SourceDocument extends SourceValidators {
  /** `<scope>:<sha256 of the url>`: URLs are long, keys stay short. */
  _id: string
  scope: string
  url: string
  updated_at: Date
}

/** `outputs`: one content-addressed stored output (its storage key is its id). */
interface OutputDocument extends Omit<OutputEntry, 'key'> {
  _id: string
  created_at: Date
  /** The newest reference to it by a request (the worker's clock, as retention's cutoff). */
  last_ref_at: Date
  /** Set while retention removes it: nobody may refer to it any more. */
  removing?: Date
}

const sourceId = (scope: string, url: string) => `${scope}:${createHash('sha256').update(url).digest('hex')}`
const live = { removing: { $exists: false } }

/**
 * The reuse index (docs/reuse.md): per tenant scope, what each source URL was last time, and which outputs are
 * stored for which source bytes and settings. Every read and write names the scope, so tenants never meet.
 *
 * References and removal cannot cross: a reference is a `$max` of `last_ref_at` on an entry that is not being
 * removed, and retention first marks an entry `removing` only if it is still unreferenced since its cutoff (one
 * atomic update each). A writer that finds an entry being removed stores its output privately instead.
 */
export class ReuseIndex {
  readonly sources: Collection<SourceDocument>
  readonly outputs: Collection<OutputDocument>

  constructor(db: Db) {
    this.sources = db.collection<SourceDocument>('sources')
    this.outputs = db.collection<OutputDocument>('outputs')
  }

  async ensureIndexes(): Promise<void> {
    await this.outputs.createIndex({ scope: 1, sha256: 1, spec: 1 })
    await this.outputs.createIndex({ last_ref_at: 1 })
  }

  async source(scope: string, url: string): Promise<SourceValidators | null> {
    return validatorsOfDoc(await this.sources.findOne({ _id: sourceId(scope, url) }))
  }

  /** The entries for `sha256` made by each of `specs` that are not being removed, by spec. */
  async find(scope: string, sha256: string, specs: string[]): Promise<Map<string, OutputEntry>> {
    const docs = await this.outputs.find({ scope, sha256, spec: { $in: [...new Set(specs)] }, ...live }).toArray()
    return new Map(docs.map((d) => [d.spec, entryOf(d)]))
  }

  /**
   * This index as one work unit sees it: what it holds for the unit's `urls` (their sources, and the outputs of
   * `specs` made from those bytes) read in two queries up front, and the unit's writes kept until its next batch
   * of records is saved (UnitReuse). `stored` tells whether an output's object is in the storage.
   */
  async forUnit(
    scope: string,
    urls: string[],
    specs: string[],
    stored: (key: string) => Promise<boolean>
  ): Promise<UnitReuse> {
    const docs = await this.sources.find({ _id: { $in: urls.map((url) => sourceId(scope, url)) } }).toArray()
    const sources = new Map(docs.map((d) => [d.url, validatorsOfDoc(d)!]))
    const hashes = [...new Set(docs.map((d) => d.sha256))]
    const outputs =
      hashes.length === 0
        ? []
        : await this.outputs
            .find({ scope, sha256: { $in: hashes }, spec: { $in: [...new Set(specs)] }, ...live })
            .toArray()
    return new UnitReuse(this, scope, sources, outputs.map(entryOf), stored)
  }

  /**
   * Writes the index writes of a batch of images, by image, at `at`, and returns the images refused (their keys
   * must not be handed out). A constant number of commands per batch, whatever its size: one `$max` of
   * `last_ref_at` on every named entry not being removed, one read of what those entries are now, one insert of
   * the recorded entries the index did not hold, and the sources of the images not refused (those `known` holds
   * unchanged are not written). An entry our `$max` matched cannot be claimed by retention after it (it claims
   * only entries unreferenced since its cutoff), so the read tells which references and records hold.
   *
   * An output whose object an earlier writer had stored (IndexWrite.existed) and whose entry is gone may have been
   * deleted by retention: its object is checked (`stored`) before its entry is written, and if it is gone (or the
   * storage cannot say) no entry is written and every image naming it is refused (docs/reuse.md).
   */
  async write<I>(
    writes: Map<I, IndexWrite>,
    at: Date,
    known: (scope: string, url: string) => SourceValidators | null,
    stored: (key: string) => Promise<boolean>
  ): Promise<Set<I>> {
    const keys = keysOf(writes.values())
    let found: KeysFound = { live: new Set(), removing: new Set() }
    const lost = new Set<string>()
    const gone = new Set<string>()
    if (keys.length > 0) {
      await this.outputs.updateMany({ _id: { $in: keys }, ...live }, { $max: { last_ref_at: at } })
      const [liveKeys, removingKeys] = [new Set<string>(), new Set<string>()]
      const read = async (keys: string[]) => {
        const docs = await this.outputs.find({ _id: { $in: keys } }, { projection: { _id: 1, removing: 1 } }).toArray()
        for (const d of docs) (d.removing ? removingKeys : liveKeys).add(d._id)
      }
      await read(keys)
      found = { live: liveKeys, removing: removingKeys }
      // Checked before the entry is written, so that no live entry ever names a missing object (checkedKeys).
      const checked = checkedKeys(writes.values(), found)
      const there = await Promise.all(checked.map(stored))
      for (const [i, key] of checked.entries()) if (!there[i]) gone.add(key)
      const inserts = entriesToInsert(writes.values(), found).filter((entry) => !gone.has(entry.key))
      const taken = (
        await insertFree(
          this.outputs,
          inserts.map((e) => docOf(e, at))
        )
      ).map((i) => inserts[i]!.key)
      if (taken.length > 0) {
        // Another writer inserted these meanwhile: referred to as any entry is, unless already being removed.
        await this.outputs.updateMany({ _id: { $in: taken }, ...live }, { $max: { last_ref_at: at } })
        await read(taken)
        for (const key of taken) if (!liveKeys.has(key) && !removingKeys.has(key)) lost.add(key) // gone again
      }
    }
    const refused = refusedWrites(writes, found, lost, gone)
    const held = [...writes].flatMap(([image, write]) => (refused.has(image) ? [] : [write]))
    const { insert, replace } = sourceWrites(held, known)
    // A source another writer inserted meanwhile is as good as ours: losing ours only costs a download next time.
    const sources = insert.map((source) => sourceDocOf(source, at))
    await insertFree(this.sources, sources)
    if (replace.length > 0)
      await this.sources.bulkWrite(
        replace.map((s) => {
          const { _id, ...doc } = sourceDocOf(s, at)
          return { replaceOne: { filter: { _id }, replacement: doc, upsert: true } }
        }),
        { ordered: false }
      )
    return refused
  }

  /**
   * Retention: marks up to `limit` outputs nobody referred to since `cutoff` as being removed, and returns their
   * keys with those a dead sweep had marked already.
   */
  async claimUnreferenced(cutoff: Date, limit: number, now = new Date()): Promise<string[]> {
    const unfinished = await this.outputs
      .find({ removing: { $exists: true } }, { projection: { _id: 1 }, limit })
      .toArray()
    const candidates = await this.outputs
      .find({ last_ref_at: { $lt: cutoff }, ...live }, { projection: { _id: 1 }, limit })
      .toArray()
    const claimed: string[] = unfinished.map((d) => d._id)
    for (const { _id } of candidates) {
      const r = await this.outputs.updateOne(
        { _id, last_ref_at: { $lt: cutoff }, ...live },
        { $set: { removing: now } }
      )
      if (r.modifiedCount === 1) claimed.push(_id)
    }
    return claimed
  }

  /** Retention, once the output's object is deleted. */
  async forget(key: string): Promise<void> {
    await this.outputs.deleteOne({ _id: key, removing: { $exists: true } })
  }
}

function docOf(entry: OutputEntry, at: Date): OutputDocument {
  const { key, ...rest } = entry
  return { _id: key, ...rest, created_at: at, last_ref_at: at }
}

function sourceDocOf({ scope, url, validators }: SourceWrite, at: Date): SourceDocument {
  return { _id: sourceId(scope, url), scope, url, ...validators, updated_at: at }
}

function validatorsOfDoc(doc: SourceDocument | null | undefined): SourceValidators | null {
  if (!doc) return null
  return {
    sha256: doc.sha256,
    ...(doc.etag && { etag: doc.etag }),
    ...(doc.last_modified && { last_modified: doc.last_modified })
  }
}

function entryOf(doc: OutputDocument): OutputEntry {
  const { _id, created_at: _c, last_ref_at: _l, removing: _r, ...rest } = doc
  return { key: _id, ...rest }
}
