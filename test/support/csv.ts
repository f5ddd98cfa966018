/** An input CSV with the columns the API expects; each row is [serial, name, image URLs]. */
export function csvOf(rows: Array<[number | string, string, string[]]>): string {
  return `${[
    'S. No.,Product Name,Input Image Urls',
    ...rows.map(([n, name, urls]) => `${n},${name},"${urls.join(',')}"`)
  ].join('\n')}\n`
}
