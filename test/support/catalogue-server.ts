/**
 * An image host for re-uploaded catalogues: `count` generated images at /<n>.png, each with a version a test can
 * bump (new bytes). With validators it sends ETag and Last-Modified and answers 304 to matching conditions; it
 * counts full and conditional GETs and 304s per image.
 */
import { createServer } from 'node:http'
import sharp from 'sharp'
import { listen, type TestServer } from './servers.ts'

export interface CatalogueServer extends TestServer {
  /** Image n's URL; `plain` serves the same bytes without validators. */
  urlOf(n: number, plain?: boolean): string
  change(n: number): Promise<void>
  bytesOf(n: number): Buffer
  counts: { full: number; conditional: number; notModified: number }
  reset(): void
}

async function imageOf(n: number, version: number): Promise<Buffer> {
  const hue = (n * 47 + version * 131) % 256
  const stripes = Buffer.from(
    `<svg width="160" height="120"><rect width="160" height="120" fill="rgb(${hue},${255 - hue},${(hue * 7) % 256})"/>` +
      `<circle cx="${40 + n}" cy="${30 + version * 10}" r="${20 + (n % 9)}" fill="white"/>` +
      `<text x="10" y="110" font-size="20">${n}/${version}</text></svg>`
  )
  return sharp(stripes).png().toBuffer()
}

export async function startCatalogueServer(count: number): Promise<CatalogueServer> {
  const versions = Array.from({ length: count }, () => 0)
  const images = await Promise.all(versions.map((v, n) => imageOf(n, v)))
  const modified = versions.map(() => new Date(Date.now() - 3_600_000).toUTCString())
  const counts = { full: 0, conditional: 0, notModified: 0 }
  const server = createServer((req, res) => {
    const match = /^\/(plain\/)?(\d+)\.png$/.exec(new URL(req.url ?? '/', 'http://x').pathname)
    const n = Number(match?.[2])
    if (!match || !(n < count)) return void res.writeHead(404).end()
    const etag = `"${n}-${versions[n]}"`
    const validators = match[1] ? {} : { etag, 'last-modified': modified[n]! }
    const conditional = req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined
    if (conditional) counts.conditional++
    else counts.full++
    const matches =
      req.headers['if-none-match'] !== undefined
        ? req.headers['if-none-match'] === etag
        : req.headers['if-modified-since'] === modified[n]
    if (!match[1] && conditional && matches) {
      counts.notModified++
      return void res.writeHead(304, validators).end()
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': images[n]!.length, ...validators })
    res.end(images[n])
  })
  const served = await listen(server)
  return {
    ...served,
    urlOf: (n, plain = false) => `${served.url}/${plain ? 'plain/' : ''}${n}.png`,
    async change(n) {
      versions[n]!++
      images[n] = await imageOf(n, versions[n]!)
      modified[n] = new Date().toUTCString()
    },
    bytesOf: (n) => images[n]!,
    counts,
    reset() {
      counts.full = counts.conditional = counts.notModified = 0
    }
  }
}
