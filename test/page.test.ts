import { readFile } from 'node:fs/promises'
import path from 'node:path'
import t from 'tap'
import { launchBrowser, OUTPUT_DIR } from './browser.ts'
import { csvOf } from './support/csv.ts'
import { ROOT } from './support/paths.ts'
import { startImageServer } from './support/servers.ts'
import { startService, upload, waitForStatus } from './support/service.ts'
import { waitFor } from './support/wait.ts'

/** /held answers nothing until released: a request with one stays Processing until it is cancelled. */
const held: Array<() => void> = []
const images = await startImageServer({
  '/held': (_req, res) => void held.push(() => res.writeHead(404).end())
})
const service = await startService({ workers: 1 })
const browser = await launchBrowser()
const outputDir = OUTPUT_DIR
t.teardown(async () => {
  for (const answer of held) answer()
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

t.test("the page lists the typed API key's requests, cancels a running one and retries failed images", async (t) => {
  const keyed = await startService({ workers: 1, env: { API_KEYS: 'page-key,other-key' } })
  t.teardown(() => keyed.stop())
  const as = (key: string) => ({ authorization: `Bearer ${key}` })
  const submit = async (key: string, urls: string[]) =>
    (await upload(keyed.apiUrl, csvOf([[1, 'P', urls]]), {}, as(key))).body.request_id
  const failing = await submit('page-key', [
    `${images.url}/img/rocket.jpg?page=1`,
    `${images.url}/img/missing.jpg?page=1`
  ])
  await waitForStatus(keyed, failing, ['Completed'])
  const running = await submit('page-key', [`${images.url}/held?page=1`])
  await waitForStatus(keyed, running, ['Processing'])
  const others = await submit('other-key', [`${images.url}/img/rocket.jpg?page=2`])

  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
  await page.goto(`${keyed.apiUrl}/`)
  await page.waitForSelector('#requests-message:text("API key")')
  await page.fill('#api-key', 'page-key')
  await page.press('#api-key', 'Tab') // change: the list is loaded with the key
  const row = (id: string) => page.locator(`#request-rows tr[data-request="${id}"]`)
  await row(running).waitFor()
  t.same(
    await page.locator('#request-rows tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.request)),
    [running, failing],
    "the key's own requests, newest first; never another key's"
  )
  t.equal(await row(others).count(), 0)
  t.ok(await page.locator('#requests-more').isHidden(), 'one page holds them all')
  t.equal(await row(running).locator('.status').textContent(), 'Processing')
  t.equal(await row(running).locator('button.retry').count(), 0)
  t.equal(await row(failing).locator('button.cancel').count(), 0, 'a finished request cannot be cancelled')
  t.match(await row(failing).textContent(), /2\/2 done, 1 failed/)

  await row(running).locator('button.cancel').click()
  await page.waitForSelector(`#request-rows tr[data-request="${running}"] .status:text("Cancelled")`)
  t.equal((await keyed.request(running))?.status, 'Cancelled')
  await page.waitForSelector('#progress-text:text("Cancelled")')
  t.equal(await row(running).locator('button.cancel').count(), 0)

  const before = (await keyed.request(failing))!.images[0]
  await row(failing).locator('button.retry').click()
  await waitFor('the retry', async () => ((await keyed.request(failing))?.round ?? 0) === 1)
  await page.waitForSelector('#progress-text:text("Completed: 1 compressed, 1 failed")', { timeout: 60_000 })
  t.match(await page.textContent('#requests-message'), new RegExp(`${failing}: Processing`))
  t.same((await keyed.request(failing))!.images[0], before, 'the image that succeeded was left as it was')
  t.equal(images.hits.get('/img/missing.jpg?page=1'), 2, 'the missing image: once more')
  const screenshot = path.join(outputDir, 'page-requests.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  t.comment(`screenshot: ${path.relative(ROOT, screenshot)}`)
})
