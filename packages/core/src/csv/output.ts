import { pipeline as connect, Readable } from 'node:stream'
import { format } from 'fast-csv'
import { OUTPUT_HEADER } from './input.ts'

export interface OutputRow {
  serial: number
  name: string
  inputUrls: string[]
  outputUrls: (string | null)[]
  /** With `outputs`: each further output's URLs, one list per output, in input order. */
  moreUrls?: (string | null)[][]
}

// OWASP CSV injection: a spreadsheet treats these leading characters as the start of a formula.
const FORMULA_START = /^[=+\-@\t\r]/

export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell
}

/** Cells of one output row; a failed image keeps its slot empty so outputs line up with inputs. */
export function outputCells(row: OutputRow): string[] {
  const list = (urls: (string | null)[]) => urls.map((u) => u ?? '').join(',')
  return [
    String(row.serial),
    row.name,
    row.inputUrls.join(','),
    list(row.outputUrls),
    ...(row.moreUrls ?? []).map(list)
  ].map(neutraliseFormula)
}

/** The header: the seed's four columns, then `Output Image Urls (<name>)` for each further output. */
export function outputHeader(more: string[] = []): string[] {
  return [...OUTPUT_HEADER, ...more.map((name) => `${OUTPUT_HEADER[3]} (${name})`)]
}

/** The output CSV as a stream (header first), for Storage.put. */
export function outputCsv(rows: Iterable<OutputRow> | AsyncIterable<OutputRow>, more: string[] = []): Readable {
  const cells = (async function* () {
    yield outputHeader(more)
    for await (const row of rows) yield outputCells(row)
  })()
  // A failure anywhere destroys the returned stream with that error, so the consumer sees it.
  return connect(Readable.from(cells), format({ quoteColumns: false }), () => undefined)
}
