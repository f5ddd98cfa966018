import t from 'tap'
import { outputCsvKey, outputPath } from '../outputs/files.ts'
import { refuseOutputRequest } from '../outputs/signed-urls.ts'
import { handOut, outputRow, type UrlSettings } from './view.ts'

const id = '2f1c7e0e-0000-4000-8000-000000000000'
const urls: UrlSettings = {
  PUBLIC_BASE_URL: 'https://api.example/imgproc',
  STORAGE_PUBLIC_URL: '',
  WEBHOOK_SECRET: 'a-secret-of-sixteen+',
  OUTPUT_URL_TTL_S: 60,
  OUTPUT_CSV_URL_TTL_S: 30 * 86_400
}
const expiresIn = (url: string) => Number(new URL(url).searchParams.get('expires')) - Date.now() / 1000
const query = (url: string) => Object.fromEntries(new URL(url).searchParams) as Record<string, string>

t.test('handed-out links verify against the route path, whatever prefix PUBLIC_BASE_URL carries', async (t) => {
  const link = handOut(urls, `${urls.PUBLIC_BASE_URL}${outputPath(outputCsvKey(id))}`)
  t.equal(new URL(link).pathname, `/imgproc/requests/${id}/output.csv`)
  t.equal(refuseOutputRequest(`/requests/${id}/output.csv`, query(link), urls), null)
  t.ok(Math.abs(expiresIn(link) - 60) < 2, 'a status link lives OUTPUT_URL_TTL_S')
  t.equal(handOut(urls, `https://cdn.example/${id}/0.webp`), `https://cdn.example/${id}/0.webp`, 'CDN links unsigned')
})

t.test("the output CSV's image links live OUTPUT_CSV_URL_TTL_S", async (t) => {
  const product = { serial: 1, name: 'Shoe', image_ids: [0, 1] }
  const images = [
    { url: 'https://a.example/0.jpg', status: 'succeeded' as const, output_file: `${id}/0.webp` },
    { url: 'https://a.example/1.jpg', status: 'failed' as const, error: 'HTTP 404' }
  ]
  const row = outputRow(product, images, urls)
  t.equal(row.outputUrls[1], null, 'a failed image keeps its slot empty')
  const link = row.outputUrls[0]!
  t.ok(Math.abs(expiresIn(link) - 30 * 86_400) < 2, `expires in ${expiresIn(link)} s`)
  t.equal(refuseOutputRequest(`/images/${id}/0.webp`, query(link), urls, Date.now() + 29 * 86_400_000), null)
  const unsigned = outputRow(product, images, { ...urls, OUTPUT_URL_TTL_S: 0 })
  t.equal(unsigned.outputUrls[0], `https://api.example/imgproc/images/${id}/0.webp`, 'signing off: plain links')
})
