/** Reading a Prometheus scrape and fetch counts, for tests that report what they measured. */

/** One metric's values by label set (`{kind="full"}`, or '' for none); the `app` label is left out. */
export function metricValues(scrape: string, name: string): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of scrape.split('\n')) {
    const m = new RegExp(`^imgproc_${name}(\\{[^}]*\\})? (\\S+)$`).exec(line)
    if (m) values[(m[1] ?? '').replace(/,?app="worker",?/, '').replace('{}', '')] = Number(m[2])
  }
  return values
}

export const sumOf = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0)

/** How many items have each count: `{ 1: 56, 2: 4 }` for 56 URLs fetched once and 4 twice. */
export function spreadOf(counts: number[]): Record<number, number> {
  const spread: Record<number, number> = {}
  for (const n of counts) spread[n] = (spread[n] ?? 0) + 1
  return spread
}
