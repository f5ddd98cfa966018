import { createHash } from 'node:crypto'
import type { Collection, Db } from 'mongodb'
import type { SourceValidators } from '../reuse/decision.ts'
import type { OutputEntry } from '../reuse/entries.ts'
import { isDuplicateKey } from './mongo.ts'

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

  async rememberSource(scope: string, url: string, validators: SourceValidators, now = new Date()): Promise<void> {
    await this.sources.replaceOne(
      { _id: sourceId(scope, url) },
      { scope, url, ...validators, updated_at: now },
      { upsert: true }
    )
  }

  /** The entries for `sha256` made by each of `specs` that are not being removed, by spec. */
  async find(scope: string, sha256: string, specs: string[]): Promise<Map<string, OutputEntry>> {
    const docs = await this.outputs.find({ scope, sha256, spec: { $in: [...new Set(specs)] }, ...live }).toArray()
    return new Map(docs.map((d) => [d.spec, entryOf(d)]))
  }

  /**
   * This index as one work unit sees it: what it holds for the unit's `urls` (their sources, and the outputs of
   * `specs` made from those bytes) read in two queries up front, the rest as usual. A unit's images then cost no
   * lookup each; what changes meanwhile is caught by `refer` and `record`, which always go to the database.
   */
  async forUnit(scope: string, urls: string[], specs: string[]): Promise<ReuseLookups> {
    const docs = await this.sources.find({ _id: { $in: urls.map((url) => sourceId(scope, url)) } }).toArray()
    const sources = new Map(docs.map((d) => [d.url, d]))
    const hashes = [...new Set(docs.map((d) => d.sha256))]
    const outputs =
      hashes.length === 0
        ? []
        : await this.outputs
            .find({ scope, sha256: { $in: hashes }, spec: { $in: [...new Set(specs)] }, ...live })
            .toArray()
    const bySha = new Map<string, Map<string, OutputEntry>>()
    for (const doc of outputs) {
      const found = bySha.get(doc.sha256) ?? new Map<string, OutputEntry>()
      bySha.set(doc.sha256, found)
      found.set(doc.spec, entryOf(doc))
    }
    return {
      source: async (s, url) => (s === scope ? validatorsOfDoc(sources.get(url)) : this.source(s, url)),
      find: async (s, sha256, wanted) =>
        s === scope && bySha.has(sha256) && wanted.every((spec) => bySha.get(sha256)!.has(spec))
          ? bySha.get(sha256)!
          : this.find(s, sha256, wanted),
      rememberSource: (...args) => this.rememberSource(...args),
      refer: (...args) => this.refer(...args),
      record: (...args) => this.record(...args)
    }
  }

  /** Refers to stored outputs at `at`; false if any of them is gone or being removed (then it is not reused). */
  async refer(keys: string[], at: Date): Promise<boolean> {
    const distinct = [...new Set(keys)]
    const result = await this.outputs.updateMany({ _id: { $in: distinct }, ...live }, { $max: { last_ref_at: at } })
    return result.matchedCount === distinct.length
  }

  /**
   * Records a stored output (or refers to it, when another writer recorded it first); false when retention is
   * removing it right now, so the caller must not hand out its key.
   */
  async record(entry: OutputEntry, at: Date): Promise<boolean> {
    const { key, ...rest } = entry
    try {
      await this.outputs.updateOne(
        { _id: key, ...live },
        { $max: { last_ref_at: at }, $setOnInsert: { ...rest, created_at: at } },
        { upsert: true }
      )
      return true
    } catch (err) {
      if (isDuplicateKey(err)) return false // the entry exists, being removed: the upsert could not match it
      throw err
    }
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

/** What reuse reads and writes of the index (ReuseIndex, or its view for one unit). */
export type ReuseLookups = Pick<ReuseIndex, 'source' | 'rememberSource' | 'find' | 'refer' | 'record'>

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
