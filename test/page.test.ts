import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { launchBrowser, OUTPUT_DIR } from './browser.ts'
import { csvOf } from './support/csv.ts'
import { ROOT } from './support/paths.ts'
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

t.test(
  'the page: upload, live progress to 100 %, gallery with savings and a failure reason, CSV download',
  async (t) => {
    const page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1200, height: 900 } })
    await page.goto(`${service.apiUrl}/`)
    t.equal(await page.title(), 'Image processor')
    const csv = csvOf([
      [1, 'Camera', [`${images.url}/img/rocket.jpg`, `${images.url}/img/chelsea.png`]],
      [2, 'Flowers', [`${images.url}/img/flowers.jpeg`, `${images.url}/img/missing.jpg`]]
    ])
    await page.setInputFiles('#file', { name: 'products.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
    t.equal(await page.textContent('#drop-text'), 'products.csv')
    await page.fill('input[name=quality]', '60')
    // Keyboard only: Tab to the submit button and press Enter.
    await page.focus('input[name=webhook_url]')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Tab')
    await page.keyboard.press('Enter')

    await page.waitForSelector('#done:not([hidden])', { timeout: 60_000 })
    t.equal(await page.getAttribute('#progress', 'value'), '100')
    t.match(await page.textContent('#progress-text'), /Completed: 3 compressed, 1 failed, 0 to go \(100%\)/)
    t.equal(await page.locator('.product').count(), 2)
    t.equal(await page.locator('.image').count(), 4, 'every image slot is shown')
    t.equal(await page.locator('.image:not(.failed) .savings').count(), 3)
    t.match(await page.locator('.image:not(.failed) .savings').first().textContent(), /Saved \d+(\.\d)?%/)
    t.match(await page.locator('.image.failed .reason').textContent(), /HTTP 404/)
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.image img')].every((i) => i.complete && i.naturalWidth > 0)
    )
    t.pass('before and after thumbnails loaded')

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')])
    const saved = path.join(outputDir, 'page-output.csv')
    await download.saveAs(saved)
    t.match(await readFile(saved, 'utf8'), /^S\. No\.,Product Name,Input Image Urls,Output Image Urls/)

    const screenshot = path.join(outputDir, 'page.png')
    await page.screenshot({ path: screenshot, fullPage: true })
    t.comment(`screenshot: ${path.relative(ROOT, screenshot)}`)
  }
)

t.test('the page: an output set lists every output, and each marketplace verdict in words', async (t) => {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  await page.goto(`${service.apiUrl}/`)
  const csv = csvOf([[1, 'Rocket', [`${images.url}/img/rocket.jpg`]]])
  await page.setInputFiles('#file', { name: 'products.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) })
  await page.fill('input[name=outputs]', 'amazon,google')
  await page.click('button[type=submit]')
  await page.waitForSelector('#done:not([hidden])', { timeout: 60_000 })
  const items = page.locator('.image .outputs li')
  t.equal(await items.count(), 2)
  t.match(
    await items.nth(0).textContent(),
    /^amazon jpeg 640×427, \d+ KB · amazon: fails \(the background is not one colour/
  )
  t.match(await items.nth(1).textContent(), /^google jpeg 640×427, \d+ KB · google: meets the rules/)
  t.equal(await page.locator('.verdict.fail').count(), 1)
  const screenshot = path.join(outputDir, 'page-outputs.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  t.comment(`screenshot: ${path.relative(ROOT, screenshot)}`)
})

t.test('the page shows every bad row of a refused CSV', async (t) => {
  const page = await browser.newPage()
  await page.goto(`${service.apiUrl}/`)
  await page.setInputFiles('#file', {
    name: 'bad.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('S. No.,Product Name,Input Image Urls\n1,,ftp://x\n1,B,https://a.example/1.jpg\n')
  })
  await page.click('button[type=submit]')
  await page.waitForSelector('#problems:not([hidden])')
  t.equal(await page.locator('#problem-rows tr').count(), 3)
  t.match(await page.textContent('#problem-rows'), /product name is empty.*scheme "ftp".*serial 1 repeats row 2/s)
})
