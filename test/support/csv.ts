import { parseString } from 'fast-csv'

/** An input CSV with the columns the API expects; each row is [serial, name, image URLs]. */
export function csvOf(rows: Array<[number | string, string, string[]]>): string {
  return `${[
    'S. No.,Product Name,Input Image Urls',
    ...rows.map(([n, name, urls]) => `${n},${name},"${urls.join(',')}"`)
  ].join('\n')}\n`
}

/** A CSV's rows as the cells a reader sees (quotes removed), the header row included. */
export function readCsv(text: string): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    const out: string[][] = []
    parseString<string[], string[]>(text, { headers: false })
      .on('data', (r) => out.push(r))
      .on('error', reject)
      .on('end', () => resolve(out))
  })
}
