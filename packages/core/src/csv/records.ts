import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parse } from 'fast-csv'
import type { CsvRowError } from '../requests/contracts.ts'

/** A quoted cell left open or followed by stray text: the file cannot be read past it. */
export class MalformedCsv extends Error {
  override name = 'MalformedCsv'
  constructor(readonly error: CsvRowError) {
    super(error.message)
  }
}

/**
 * The records of a CSV arriving as text chunks, each with its 1-based number, read as they arrive: at most a few
 * chunks are held whatever the file's size, and a slow consumer slows the source (backpressure). A malformed
 * quoted cell throws MalformedCsv at the record where it began; a failing source throws its own error.
 */
export async function* readRecords(
  chunks: AsyncIterable<string> | Iterable<string>
): AsyncGenerator<{ cells: string[]; row: number }> {
  const quotes = new QuoteTracker()
  let sourceFailed = false
  async function* tracked() {
    try {
      for await (const chunk of chunks) {
        quotes.write(chunk)
        yield chunk
      }
    } catch (err) {
      sourceFailed = true
      throw err
    }
  }
  const parser = parse<string[], string[]>({ headers: false, ignoreEmpty: false })
  const fed = pipeline(Readable.from(tracked(), { objectMode: false }), parser).catch(() => undefined)
  let row = 0
  try {
    for await (const record of parser as AsyncIterable<string[]>) yield { cells: record, row: ++row }
  } catch (err) {
    if (sourceFailed || !(err instanceof Error) || !/^Parse Error/.test(err.message)) throw err
    const message = `malformed CSV: ${err.message.replace(/^Parse Error: /, '')} (a quoted cell must be closed and followed by a comma or line end)`
    throw new MalformedCsv({ row: quotes.malformedRow() ?? row + 1, column: null, message })
  } finally {
    parser.destroy()
    await fed
  }
}

/**
 * Follows quoting through text fed in pieces, to name the 1-based line where a quoted cell is left open or
 * followed by stray text, per RFC 4180 (fast-csv's own error does not say where).
 */
export class QuoteTracker {
  private line = 1
  private openedOn = 0
  private inQuotes = false
  /** Inside quotes, a quote was the last character seen: it either closes the cell or escapes the next one. */
  private afterQuote = false
  private bad: number | null = null

  write(text: string): void {
    let i = 0
    while (i < text.length && this.bad === null) {
      if (this.afterQuote) {
        const c = text[i]!
        this.afterQuote = false
        if (c === '"') {
          i++ // an escaped quote: still inside
          continue
        }
        if (c !== ',' && c !== '\r' && c !== '\n') {
          this.bad = this.openedOn
          return
        }
        this.inQuotes = false
      }
      if (this.inQuotes) {
        const q = text.indexOf('"', i)
        if (q < 0) return
        this.afterQuote = true
        i = q + 1
        continue
      }
      const q = text.indexOf('"', i)
      const end = q < 0 ? text.length : q
      for (let n = text.indexOf('\n', i); n >= 0 && n < end; n = text.indexOf('\n', n + 1)) this.line++
      if (q < 0) return
      this.inQuotes = true
      this.openedOn = this.line
      i = q + 1
    }
  }

  /** Where the text fed so far is malformed, or null. */
  malformedRow(): number | null {
    if (this.bad !== null) return this.bad
    return this.inQuotes && !this.afterQuote ? this.openedOn : null
  }
}

/** The 1-based record number where a quoted cell is left open or followed by stray text, per RFC 4180. */
export function malformedQuoteRow(text: string): number | null {
  const quotes = new QuoteTracker()
  quotes.write(text)
  return quotes.malformedRow()
}
