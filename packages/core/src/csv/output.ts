import { pipeline as connect, Readable } from 'node:stream'
import { format } from 'fast-csv'
import { OUTPUT_HEADER } from './input.ts'

export interface OutputRow {
  serial: number
  name: string
  inputUrls: string[]
  outputUrls: (string | null)[]
}

// OWASP CSV injection: a spreadsheet treats these leading characters as the start of a formula.
const FORMULA_START = /^[=+\-@\t\r]/

export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) ? `'${cell}` : cell
}

/** Cells of one output row; a failed image keeps its slot empty so outputs line up with inputs. */
export function outputCells(row: OutputRow): string[] {
  return [String(row.serial), row.name, row.inputUrls.join(','), row.outputUrls.map((u) => u ?? '').join(',')].map(
    neutraliseFormula
  )
}

/** The output CSV as a stream (header first), for Storage.put. */
export function outputCsv(rows: Iterable<OutputRow> | AsyncIterable<OutputRow>): Readable {
  const cells = (async function* () {
    yield [...OUTPUT_HEADER]
    for await (const row of rows) yield outputCells(row)
  })()
  // A failure anywhere destroys the returned stream with that error, so the consumer sees it.
  return connect(Readable.from(cells), format({ quoteColumns: false }), () => undefined)
}
