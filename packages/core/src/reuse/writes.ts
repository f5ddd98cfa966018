import type { SourceValidators } from './decision.ts'
import type { OutputEntry } from './entries.ts'

/**
 * What one finished image asks of the reuse index. The worker writes these for a whole batch of images at once,
 * before that batch's records are saved (docs/reuse.md): an image's keys are handed out only if its write holds.
 */
export interface IndexWrite {
  /** Stored outputs the image reuses: each must still be indexed and not being removed. */
  refer?: string[]
  /** Outputs the image made: recorded, unless retention is removing one of them at that moment. */
  record?: OutputEntry[]
  /**
   * Keys of `record` an earlier writer had stored already (the storage's put answered `exists`). Retention may
   * have deleted such an object since: it is checked before its entry is written (checkedKeys).
   */
  existed?: string[]
  /** The source to remember for next time: written only for an image whose refer or record holds. */
  source?: SourceWrite
}

/** A tenant's source URL and what it was this time. */
export interface SourceWrite {
  scope: string
  url: string
  validators: SourceValidators
}

/** The state of a batch's output keys after its one `$max` of `last_ref_at` on every entry not being removed. */
export interface KeysFound {
  /** Indexed and not being removed: its reference is in place (or another writer's just as new one). */
  live: ReadonlySet<string>
  /** Being removed by retention: nobody may refer to it. */
  removing: ReadonlySet<string>
}

/** Every output key a batch of writes names, once each: the one `$max` of `last_ref_at` covers them all. */
export function keysOf(writes: Iterable<IndexWrite>): string[] {
  const keys = new Set<string>()
  for (const write of writes) {
    for (const key of write.refer ?? []) keys.add(key)
    for (const entry of write.record ?? []) keys.add(entry.key)
  }
  return [...keys]
}

/** The entries to insert: those recorded that the index does not hold at all (each key once). */
export function entriesToInsert(writes: Iterable<IndexWrite>, found: KeysFound): OutputEntry[] {
  const missing = new Map<string, OutputEntry>()
  for (const write of writes)
    for (const entry of write.record ?? [])
      if (!found.live.has(entry.key) && !found.removing.has(entry.key)) missing.set(entry.key, entry)
  return [...missing.values()]
}

/**
 * The keys whose object must be checked before their entries are written: those put found already stored and
 * the index does not hold. Retention deletes an object before its entry, so with the entry gone it is done with
 * that object: one found now stays, one gone was deleted. A live entry always has its object, so no index entry
 * ever names a missing one, and a reference that finds an entry live holds.
 */
export function checkedKeys(writes: Iterable<IndexWrite>, found: KeysFound): string[] {
  const keys = new Set<string>()
  for (const write of writes)
    for (const key of write.existed ?? []) if (!found.live.has(key) && !found.removing.has(key)) keys.add(key)
  return [...keys]
}

/**
 * The images whose write does not hold, so their keys must not be handed out: a reference to an entry that is
 * gone or being removed, or a record of one being removed, or whose insert lost to another writer (`lost`: the
 * entry appeared meanwhile and was gone again when read; refusing is the safe answer, and rare), or that names an output whose object is `gone`.
 * A reference to an entry another image of the
 * batch records holds as that record does (the same bytes twice in a unit are made once).
 */
export function refusedWrites<I>(
  writes: Map<I, IndexWrite>,
  found: KeysFound,
  lost: ReadonlySet<string>,
  gone: ReadonlySet<string> = new Set()
): Set<I> {
  const recorded = new Set([...writes.values()].flatMap((write) => (write.record ?? []).map((e) => e.key)))
  const kept = (key: string) => !found.removing.has(key) && !lost.has(key) && !gone.has(key)
  const referred = (key: string) => !gone.has(key) && (found.live.has(key) || (recorded.has(key) && kept(key)))
  const refused = new Set<I>()
  for (const [image, write] of writes) {
    const holds = (write.refer ?? []).every(referred) && (write.record ?? []).every(({ key }) => kept(key))
    if (!holds) refused.add(image)
  }
  return refused
}

/**
 * Which sources to write, given what the index held for them when the unit began (`known`): a URL it did
 * not know is inserted, one whose validators changed is replaced, and an unchanged one is not written at all.
 */
export function sourceWrites(
  writes: Iterable<IndexWrite>,
  known: (scope: string, url: string) => SourceValidators | null
): { insert: SourceWrite[]; replace: SourceWrite[] } {
  const insert = new Map<string, SourceWrite>()
  const replace = new Map<string, SourceWrite>()
  for (const { source } of writes) {
    if (!source) continue
    const before = known(source.scope, source.url)
    const id = `${source.scope} ${source.url}`
    if (!before) insert.set(id, source)
    else if (!sameValidators(before, source.validators)) replace.set(id, source)
  }
  return { insert: [...insert.values()], replace: [...replace.values()] }
}

function sameValidators(a: SourceValidators, b: SourceValidators): boolean {
  return a.sha256 === b.sha256 && a.etag === b.etag && a.last_modified === b.last_modified
}
