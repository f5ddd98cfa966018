import type { SourceValidators } from './decision.ts'
import type { OutputEntry } from './entries.ts'
import type { IndexWrite } from './writes.ts'

/** What reuse reads of the index while it works on an image, and where it leaves the image's write. */
export interface ReuseLookups {
  source(scope: string, url: string): Promise<SourceValidators | null>
  /** The entries for `sha256` made by each of `specs` that are not being removed, by spec. */
  find(scope: string, sha256: string, specs: string[]): Promise<Map<string, OutputEntry>>
  /** Keeps image `image`'s write until its record is about to be saved (UnitReuse.flush). */
  defer(image: number, write: IndexWrite): void
}

/** The index itself, as a unit's view uses it (ReuseIndex). */
interface IndexPort {
  source(scope: string, url: string): Promise<SourceValidators | null>
  find(scope: string, sha256: string, specs: string[]): Promise<Map<string, OutputEntry>>
  write<I>(
    writes: Map<I, IndexWrite>,
    at: Date,
    known: (scope: string, url: string) => SourceValidators | null,
    stored: (key: string) => Promise<boolean>
  ): Promise<Set<I>>
}

/**
 * The reuse index as one work unit sees it. Its sources and outputs are read once up front, so its images cost
 * no lookup each; their writes wait here until the unit saves a batch of image records, and are written for the
 * whole batch at once just before (flush). Whatever changed meanwhile is caught then: an image whose write does
 * not hold is refused, and its keys are never handed out.
 */
export class UnitReuse implements ReuseLookups {
  private readonly pending = new Map<number, IndexWrite>()
  private readonly bySha = new Map<string, Map<string, OutputEntry>>()

  constructor(
    private readonly index: IndexPort,
    private readonly scope: string,
    /** The unit's sources the index held when it began, by URL. */
    private readonly sources: ReadonlyMap<string, SourceValidators>,
    outputs: OutputEntry[],
    /** Whether an output's object is in the storage (ReuseIndex.write). */
    private readonly stored: (key: string) => Promise<boolean>
  ) {
    for (const entry of outputs) this.know(entry)
  }

  private know(entry: OutputEntry): void {
    const found = this.bySha.get(entry.sha256) ?? new Map<string, OutputEntry>()
    this.bySha.set(entry.sha256, found)
    found.set(entry.spec, entry)
  }

  private forget(key: string): void {
    for (const [sha256, found] of this.bySha) {
      for (const [spec, entry] of found) if (entry.key === key) found.delete(spec)
      if (found.size === 0) this.bySha.delete(sha256)
    }
  }

  async source(scope: string, url: string): Promise<SourceValidators | null> {
    return scope === this.scope ? (this.sources.get(url) ?? null) : this.index.source(scope, url)
  }

  async find(scope: string, sha256: string, specs: string[]): Promise<Map<string, OutputEntry>> {
    const found = scope === this.scope ? this.bySha.get(sha256) : undefined
    return found && specs.every((spec) => found.has(spec)) ? found : this.index.find(scope, sha256, specs)
  }

  /** Also makes the outputs an image recorded known to the unit's later images: the same bytes are made once. */
  defer(image: number, write: IndexWrite): void {
    this.pending.set(image, write)
    for (const entry of write.record ?? []) if (entry.scope === this.scope) this.know(entry)
  }

  /**
   * Writes what `images` left here, in one batch, and returns those refused (to be made again under the request's
   * own keys). A write that fails stays here for the next flush.
   */
  async flush(images: Iterable<number>, at = new Date()): Promise<Set<number>> {
    const writes = new Map<number, IndexWrite>()
    for (const image of images) {
      const write = this.pending.get(image)
      if (write) writes.set(image, write)
    }
    if (writes.size === 0) return new Set()
    const refused = await this.index.write(
      writes,
      at,
      (scope, url) => (scope === this.scope ? (this.sources.get(url) ?? null) : null),
      this.stored
    )
    for (const image of writes.keys()) this.pending.delete(image)
    // Their outputs are being removed or gone: the unit's later images must not find them here.
    for (const image of refused) {
      const write = writes.get(image)!
      for (const key of [...(write.refer ?? []), ...(write.record ?? []).map((e) => e.key)]) this.forget(key)
    }
    return refused
  }
}
