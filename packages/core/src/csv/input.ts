import { Readable } from 'node:stream'
import { parse } from 'fast-csv'
import { checkUrlSyntax, type UrlRules } from '../fetch/policy.ts'
import type { CsvRowError } from '../requests/contracts.ts'
import type { ProductRecord } from '../requests/records.ts'

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

const MAX_REPORTED_ERRORS = 1000

/**
 * Parses and validates a whole input CSV; returns every row error rather than stopping at the first. Rows are
 * checked as the parser yields them, so raw records never pile up beside the products built from them.
 */
export async function parseInputCsv(text: string, rules: CsvRules): Promise<CsvResult> {
  const errors: CsvRowError[] = []
  const products: ProductRecord[] = []
  const urlIndex = new Map<string, number>()
  const seenSerials = new Map<number, number>()
  let sawHeader = false
  let mentions = 0
  const malformed = await readRecords(text.replace(/^\uFEFF/, ''), (cells, row) => {
    if (row === 1) {
      sawHeader = true
      return void errors.push(...checkHeader(cells))
    }
    if (cells.every((c) => c.trim() === '')) return
    const rowErrors = checkRow(cells, row, rules, seenSerials)
    if (rowErrors.length > 0) return void errors.push(...rowErrors)
    mentions += splitUrls(cells[2] ?? '').length
    if (mentions > rules.maxUrlMentions && mentions - splitUrls(cells[2] ?? '').length <= rules.maxUrlMentions) {
      return void errors.push({
        row,
        column: INPUT_HEADER[2],
        message: `the file lists more than ${rules.maxUrlMentions} image URLs in all (repeats included; MAX_URL_MENTIONS); split it into several uploads`
      })
    }
    products.push({
      serial: Number(cells[0]!.trim()),
      name: cells[1]!.trim(),
      image_ids: splitUrls(cells[2] ?? '').map((url) => {
        if (!urlIndex.has(url)) urlIndex.set(url, urlIndex.size)
        return urlIndex.get(url)!
      })
    })
  })
  if (malformed) return { ok: false, errors: [malformed] }
  if (!sawHeader)
    return { ok: false, errors: [{ row: 1, column: null, message: 'the file is empty; expected a header row' }] }

  if (errors.length === 0 && products.length === 0)
    errors.push({ row: 2, column: null, message: 'the file has a header but no product rows' })
  if (errors.length === 0 && urlIndex.size > rules.maxImages) {
    errors.push({
      row: 1,
      column: INPUT_HEADER[2],
      message: `the file has ${urlIndex.size} distinct image URLs; the limit per request is ${rules.maxImages}`
    })
  }
  if (errors.length > 0)
    return { ok: false, errors: errors.sort((a, b) => a.row - b.row).slice(0, MAX_REPORTED_ERRORS) }
  return { ok: true, value: { products, urls: [...urlIndex.keys()] } }
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

function checkRow(cells: string[], row: number, rules: CsvRules, seenSerials: Map<number, number>): CsvRowError[] {
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
    const first = seenSerials.get(serial)
    if (first !== undefined)
      errors.push({ row, column: INPUT_HEADER[0], message: `serial ${serial} repeats row ${first}` })
    else seenSerials.set(serial, row)
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

/**
 * Hands each raw record to `onRecord` with its 1-based number. A malformed quoted cell stops fast-csv; it is
 * returned as the error of the record where it happened.
 */
function readRecords(text: string, onRecord: (cells: string[], row: number) => void): Promise<CsvRowError | null> {
  return new Promise((resolve) => {
    let row = 0
    // Fed in slices: fast-csv then yields rows as it goes instead of materialising all of them in one step.
    Readable.from(slices(text, 64 * 1024), { objectMode: false })
      .pipe(parse<string[], string[]>({ headers: false, ignoreEmpty: false }))
      .on('data', (record: string[]) => onRecord(record, ++row))
      .on('error', (err: Error) => {
        const message = `malformed CSV: ${err.message.replace(/^Parse Error: /, '')} (a quoted cell must be closed and followed by a comma or line end)`
        resolve({ row: malformedQuoteRow(text) ?? row + 1, column: null, message })
      })
      .on('end', () => resolve(null))
  })
}

function* slices(text: string, size: number): Generator<string> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size)
}

/** The 1-based record number where a quoted cell is left open or followed by stray text, per RFC 4180. */
export function malformedQuoteRow(text: string): number | null {
  let row = 1
  let openedOn = 0
  let inQuotes = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inQuotes) {
      if (c !== '"') continue
      if (text[i + 1] === '"') i++
      else if (i + 1 < text.length && !',\r\n'.includes(text[i + 1]!)) return openedOn
      else inQuotes = false
    } else if (c === '"') {
      inQuotes = true
      openedOn = row
    } else if (c === '\n') row++
  }
  return inQuotes ? openedOn : null
}
