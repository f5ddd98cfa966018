import { text } from 'node:stream/consumers'
import t from 'tap'
import { neutraliseFormula, outputCsv } from './output.ts'

t.test('cells that a spreadsheet would run as formulas are neutralised', async (t) => {
  for (const cell of ['=1+1', '+SUM(A1)', '-2', '@cmd', '\tx', '\rx']) t.equal(neutraliseFormula(cell), `'${cell}`)
  for (const cell of ['SKU 1', 'https://a.example/x.jpg', '12', '']) t.equal(neutraliseFormula(cell), cell)
})

t.test('the output CSV has the header, rows in order, empty slots and escaped formulas', async (t) => {
  const csv = await text(
    outputCsv([
      {
        serial: 1,
        name: '=HYPERLINK("http://evil.example","click")',
        inputUrls: ['https://a.example/1.jpg', 'https://a.example/2.jpg'],
        outputUrls: ['https://o.example/1.jpg', null]
      },
      {
        serial: 2,
        name: 'Plain, with comma',
        inputUrls: ['https://a.example/3.jpg'],
        outputUrls: ['https://o.example/3.jpg']
      }
    ])
  )
  t.equal(csv.split('\n')[0], 'S. No.,Product Name,Input Image Urls,Output Image Urls')
  t.match(
    csv,
    `1,"'=HYPERLINK(""http://evil.example"",""click"")","https://a.example/1.jpg,https://a.example/2.jpg","https://o.example/1.jpg,"`
  )
  t.match(csv, '2,"Plain, with comma",https://a.example/3.jpg,https://o.example/3.jpg')
})

t.test('outputCsv streams the same text, for Storage.put', async (t) => {
  const csv = await text(
    outputCsv([{ serial: 7, name: 'A', inputUrls: ['https://a.example/1.jpg'], outputUrls: [null] }])
  )
  t.equal(csv, 'S. No.,Product Name,Input Image Urls,Output Image Urls\n7,A,https://a.example/1.jpg,')
})
