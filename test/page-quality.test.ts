/** The page with quality=auto: the score beside the savings, and the before/after comparison at 1:1. */

import path from 'node:path'
import t from 'tap'
import { launchBrowser, OUTPUT_DIR } from './browser.ts'
import { csvOf } from './support/csv.ts'
import { startImageServer } from './support/servers.ts'
import { startService } from './support/service.ts'

const images = await startImageServer()
const service = await startService({ workers: 1 })
const browser = await launchBrowser()
const outputDir = OUTPUT_DIR
t.teardown(async () => {
  await browser.close()
  await service.stop()
  await images.close()
})

t.test('quality=auto from the page: score beside the savings, before/after that zooms to 1:1', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  await page.goto(`${service.apiUrl}/`)
  await page.setInputFiles('#file', {
    name: 'products.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from(csvOf([[1, 'Camera', [`${images.url}/img/rocket.jpg`]]]))
  })
  await page.fill('input[name=quality]', 'auto:good')
  await page.click('button[type=submit]')
  await page.waitForSelector('#done:not([hidden])', { timeout: 120_000 })

  const score = await page.locator('.image .score').textContent()
  const value = Number(/SSIMULACRA2 (\d+(\.\d)?)/.exec(score ?? '')?.[1])
  t.ok(value >= 70, `the card shows the score: "${score}"`)
  t.match(await page.locator('.image .stats').textContent(), /Saved \d+(\.\d)?% · SSIMULACRA2 \d+\.\d \(q\d+\)/)

  await page.click('.image button.compare')
  await page.waitForSelector('#compare[open]')
  await page.waitForFunction(() =>
    ['compare-before', 'compare-after'].every(
      (id) => (document.getElementById(id) as HTMLImageElement).naturalWidth > 0
    )
  )
  t.match(await page.textContent('#compare-caption'), /SSIMULACRA2 \d+\.\d/)
  const fitted = await page
    .locator('#compare-after')
    .evaluate((img: HTMLImageElement) => img.getBoundingClientRect().width)
  await page.check('#compare-zoom')
  const actual = await page
    .locator('#compare-after')
    .evaluate((img: HTMLImageElement) => ({ shown: img.getBoundingClientRect().width, natural: img.naturalWidth }))
  t.equal(
    actual.shown,
    actual.natural,
    `1:1 shows the output's own ${actual.natural} pixels (fitted: ${fitted.toFixed(0)})`
  )
  await page.locator('#compare-split').fill('20')
  t.match(await page.locator('#compare-frame').getAttribute('style'), /--split: 20%/, 'the slider moves the split')
  await page.screenshot({ path: path.join(outputDir, 'page-compare.png') })
  await page.click('#compare-close')
  t.equal(await page.locator('#compare[open]').count(), 0, 'closes')
})
