import { checkUrlSyntax, type UrlRules } from '../fetch/policy.ts'
import type { CsvRowError } from '../requests/contracts.ts'
import type { ProductRecord } from '../requests/records.ts'
import { CompactIndex, integerKey, textKey } from './compact-index.ts'
import { MalformedCsv, readRecords } from './records.ts'

export const INPUT_HEADER = ['S. No.', 'Product Name', 'Input Image Urls'] as const
export const OUTPUT_HEADER = [...INPUT_HEADER, 'Output Image Urls'] as const

export interface CsvRules extends UrlRules {
  maxImages: number
  /** URLs one row may list (repeats included): a row is one product's gallery, not a traffic generator. */
  maxUrlsPerRow: number
  /** URL mentions in the whole file (repeats included): bounds what every status page and the output CSV hold. */
  maxUrlMentions: number
}

export interface ParsedCsv {
  products: ProductRecord[]
  /** Distinct URLs in first-seen order; products refer to them by index. */
  urls: string[]
}

export type CsvResult = { ok: true; value: ParsedCsv } | { ok: false; errors: CsvRowError[] }

/** Row errors listed in a 400; past this many they are only counted. */
export const MAX_REPORTED_ERRORS = 1000

/** One accepted row: the product, and those of its URLs that are new to the file, in first-seen order. */
export interface AcceptedRow {
  product: ProductRecord
  newUrls: string[]
}

/**
 * The whole-file rules of an input CSV, applied a record at a time as the file streams in: the header, every
 * row, repeats of serials and URLs across the file (kept as 64-bit keys, not strings), and the limits. Every
 * problem is counted; the first MAX_REPORTED_ERRORS are kept for the answer.
 */
export class InputRows {
  /** Problems found so far, capped (see `problems` for the count). */
  readonly errors: CsvRowError[] = []
  problems = 0
  products = 0
  private readonly urls = new CompactIndex(4096)
  private readonly serials = new CompactIndex(4096)
  private sawHeader = false
  private mentions = 0

  constructor(private readonly rules: CsvRules) {}

  /** Distinct image URLs so far. */
  get images(): number {
    return this.urls.size
  }

  /** Bytes held by the whole-file indexes (serials and URLs). */
  get indexBytes(): number {
    return this.urls.bytes + this.serials.bytes
  }

  /** Checks record number `row` (1-based; the first is the header); the product when the row is valid. */
  accept(cells: string[], row: number): AcceptedRow | null {
    if (row === 1) {
      this.sawHeader = true
      this.report(checkHeader(cells))
      return null
    }
    if (cells.every((c) => c.trim() === '')) return null
    const rowErrors = checkRow(cells, row, this.rules, this.serials)
    if (rowErrors.length > 0) return this.report(rowErrors)
    const urls = splitUrls(cells[2] ?? '')
    const before = this.mentions
    this.mentions += urls.length
    if (this.mentions > this.rules.maxUrlMentions) {
      if (before > this.rules.maxUrlMentions) return null // said once, at the row that crossed the limit
      return this.report([
        {
          row,
          column: INPUT_HEADER[2],
          message: `the file lists more than ${this.rules.maxUrlMentions} image URLs in all (repeats included; MAX_URL_MENTIONS); split it into several uploads`
        }
      ])
    }
    const newUrls: string[] = []
    const image_ids = urls.map((url) => {
      const known = this.urls.setIfAbsent(textKey(url), this.urls.size)
      if (known >= 0) return known
      newUrls.push(url)
      return this.urls.size - 1
    })
    this.products += 1
    return { product: { serial: Number(cells[0]!.trim()), name: cells[1]!.trim(), image_ids }, newUrls }
  }

  /** A problem with the file as a whole (it could not be read), reported as the only one. */
  fail(error: CsvRowError): void {
    this.errors.length = 0
    this.problems = 0
    this.report([error])
  }

  /** The checks only the whole file can answer; every problem of the file, sorted by row and capped. */
  finish(): CsvRowError[] {
    if (!this.sawHeader && this.problems === 0)
      this.report([{ row: 1, column: null, message: 'the file is empty; expected a header row' }])
    if (this.problems === 0 && this.products === 0)
      this.report([{ row: 2, column: null, message: 'the file has a header but no product rows' }])
    if (this.problems === 0 && this.urls.size > this.rules.maxImages) {
      this.report([
        {
          row: 1,
          column: INPUT_HEADER[2],
          message: `the file has ${this.urls.size} distinct image URLs; the limit per request is ${this.rules.maxImages}`
        }
      ])
    }
    return this.errors.sort((a, b) => a.row - b.row)
  }

  private report(errors: CsvRowError[]): null {
    this.problems += errors.length
    for (const e of errors) if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push(e)
    return null
  }
}

/**
 * Parses and validates a whole input CSV held as text (tests, tools); uploads stream through InputRows instead.
 * Returns every row error rather than stopping at the first.
 */
export async function parseInputCsv(text: string, rules: CsvRules): Promise<CsvResult> {
  const rows = new InputRows(rules)
  const products: ProductRecord[] = []
  const urls: string[] = []
  try {
    for await (const { cells, row } of readRecords(slices(text, 64 * 1024))) {
      const accepted = rows.accept(cells, row)
      if (accepted) {
        products.push(accepted.product)
        urls.push(...accepted.newUrls)
      }
    }
  } catch (err) {
    if (!(err instanceof MalformedCsv)) throw err
    rows.fail(err.error)
  }
  const errors = rows.finish()
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { products, urls } }
}

function* slices(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size)
}

export function splitUrls(cell: string): string[] {
  return cell
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '')
}

function normaliseHeaderName(name: string): string {
  return name.trim().toLowerCase()
}

function checkHeader(header: string[]): CsvRowError[] {
  const errors: CsvRowError[] = []
  INPUT_HEADER.forEach((expected, i) => {
    const got = header[i]
    if (got === undefined)
      errors.push({ row: 1, column: expected, message: `missing header column ${i + 1}: expected "${expected}"` })
    else if (normaliseHeaderName(got) !== normaliseHeaderName(expected)) {
      errors.push({ row: 1, column: expected, message: `header column ${i + 1} is "${got}"; expected "${expected}"` })
    }
  })
  if (header.length > INPUT_HEADER.length) {
    errors.push({
      row: 1,
      column: null,
      message: `the header has ${header.length} columns; expected exactly ${INPUT_HEADER.length}: ${INPUT_HEADER.join(', ')}`
    })
  }
  return errors
}

function checkRow(cells: string[], row: number, rules: CsvRules, serials: CompactIndex): CsvRowError[] {
  if (cells.length !== INPUT_HEADER.length) {
    return [
      {
        row,
        column: null,
        message: `expected ${INPUT_HEADER.length} columns, found ${cells.length} (quote the URL list if it contains commas)`
      }
    ]
  }
  const [serialCell, nameCell, urlsCell] = cells as [string, string, string]
  const errors: CsvRowError[] = []
  const serialText = serialCell.trim()
  if (!/^[0-9]+$/.test(serialText) || Number(serialText) < 1 || !Number.isSafeInteger(Number(serialText))) {
    errors.push({ row, column: INPUT_HEADER[0], message: `"${serialText}" is not a positive integer` })
  } else {
    const serial = Number(serialText)
    const first = serials.setIfAbsent(integerKey(serial), row)
    if (first >= 0) errors.push({ row, column: INPUT_HEADER[0], message: `serial ${serial} repeats row ${first}` })
  }
  if (nameCell.trim() === '') errors.push({ row, column: INPUT_HEADER[1], message: 'product name is empty' })
  else if (nameCell.trim().length > 1000)
    errors.push({ row, column: INPUT_HEADER[1], message: 'product name is longer than 1000 characters' })

  const urls = splitUrls(urlsCell)
  if (urls.length === 0) errors.push({ row, column: INPUT_HEADER[2], message: 'no image URLs' })
  if (urls.length > rules.maxUrlsPerRow) {
    return [
      ...errors,
      {
        row,
        column: INPUT_HEADER[2],
        message: `${urls.length} image URLs in one row; the limit is ${rules.maxUrlsPerRow} (MAX_URLS_PER_ROW)`
      }
    ]
  }
  urls.forEach((url, i) => {
    const problem = checkUrlSyntax(url, rules)
    if (problem) errors.push({ row, column: INPUT_HEADER[2], message: `URL ${i + 1} (${clip(url)}): ${problem}` })
  })
  return errors
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
