import t from 'tap'
import { InputRows, MAX_REPORTED_ERRORS, parseInputCsv } from './input.ts'
import { malformedQuoteRow } from './records.ts'

const rules = { maxUrlLength: 2048, allowPrivateNetworks: false, maxImages: 10, maxUrlsPerRow: 5, maxUrlMentions: 12 }
const header = 'S. No.,Product Name,Input Image Urls'

t.test('accepts BOM, CRLF, quoted multi-URL cells, spacing and header case', async (t) => {
  const csv = `\uFEFF  s. no. ,product name,  INPUT IMAGE URLS \r\n1,SKU1,"https://a.example/1.jpg, https://a.example/2.jpg ,"\r\n\r\n2, SKU2 ,https://a.example/3.jpg\r\n`
  const result = await parseInputCsv(csv, rules)
  t.same(result, {
    ok: true,
    value: {
      products: [
        { serial: 1, name: 'SKU1', image_ids: [0, 1] },
        { serial: 2, name: 'SKU2', image_ids: [2] }
      ],
      urls: ['https://a.example/1.jpg', 'https://a.example/2.jpg', 'https://a.example/3.jpg']
    }
  })
})

t.test('a URL repeated across products is one image', async (t) => {
  const result = await parseInputCsv(
    `${header}\n1,A,"https://x.example/a.jpg,https://x.example/b.jpg"\n2,B,https://x.example/a.jpg\n`,
    rules
  )
  t.ok(result.ok)
  if (result.ok) {
    t.same(result.value.urls.length, 2)
    t.same(result.value.products[1]!.image_ids, [0])
  }
})

t.test('reports every bad row with row, column and reason', async (t) => {
  const csv = [
    header,
    'x,A,https://a.example/1.jpg',
    '2,,https://a.example/2.jpg',
    '2,C,https://a.example/3.jpg',
    '4,D,',
    '5,E,"mailto:a@b.example"',
    '6,F,"https://user:pw@a.example/x.jpg"',
    `7,G,"https://a.example/${'x'.repeat(2100)}"`,
    '8,H,"http://10.0.0.5/a.jpg, http://[::1]/b.jpg, http://169.254.169.254/latest"',
    '9,I'
  ].join('\n')
  const result = await parseInputCsv(csv, rules)
  t.notOk(result.ok)
  if (result.ok) return
  t.same(
    result.errors.map((e) => [e.row, e.column]),
    [
      [2, 'S. No.'],
      [3, 'Product Name'],
      [4, 'S. No.'],
      [5, 'Input Image Urls'],
      [6, 'Input Image Urls'],
      [7, 'Input Image Urls'],
      [8, 'Input Image Urls'],
      [9, 'Input Image Urls'],
      [9, 'Input Image Urls'],
      [9, 'Input Image Urls'],
      [10, null]
    ]
  )
  t.match(result.errors[0]!.message, /"x" is not a positive integer/)
  t.match(result.errors[2]!.message, /serial 2 repeats row 3/)
  t.match(result.errors[3]!.message, /no image URLs/)
  t.match(result.errors[4]!.message, /scheme "mailto"/)
  t.match(result.errors[5]!.message, /credentials/)
  t.match(result.errors[6]!.message, /longer than 2048/)
  t.match(result.errors[7]!.message, /private-use address/)
  t.match(result.errors[8]!.message, /loopback/)
  t.match(result.errors[9]!.message, /link-local/)
  t.match(result.errors[10]!.message, /expected 3 columns, found 2/)
})

t.test('header problems', async (t) => {
  const missing = await parseInputCsv('S. No.,Product Name\n1,A\n', rules)
  t.match(missing, { ok: false, errors: [{ row: 1, column: 'Input Image Urls', message: /missing header column 3/ }] })
  const empty = await parseInputCsv('', rules)
  t.match(empty, { ok: false, errors: [{ row: 1, message: /empty/ }] })
  const noRows = await parseInputCsv(`${header}\n`, rules)
  t.match(noRows, { ok: false, errors: [{ row: 2, message: /no product rows/ }] })
})

t.test('image limit per request names the limit', async (t) => {
  const rows = Array.from({ length: 11 }, (_, i) => `${i + 1},P${i},https://a.example/${i}.jpg`)
  const result = await parseInputCsv([header, ...rows].join('\n'), rules)
  t.match(result, { ok: false, errors: [{ message: /11 distinct image URLs; the limit per request is 10/ }] })
})

t.test('URL mentions are capped per row and per file, repeats included', async (t) => {
  const repeated = Array.from({ length: 6 }, () => 'https://a.example/same.jpg').join(',')
  const perRow = await parseInputCsv(`${header}\n1,A,"${repeated}"\n`, rules)
  t.match(perRow, {
    ok: false,
    errors: [
      { row: 2, column: 'Input Image Urls', message: '6 image URLs in one row; the limit is 5 (MAX_URLS_PER_ROW)' }
    ]
  })
  const rows = Array.from(
    { length: 4 },
    (_, i) =>
      `${i + 1},P${i},"https://a.example/x.jpg,https://a.example/x.jpg,https://a.example/y.jpg,https://a.example/y.jpg"`
  )
  const perFile = await parseInputCsv([header, ...rows].join('\n'), rules)
  t.match(perFile, {
    ok: false,
    errors: [{ row: 5, message: /more than 12 image URLs in all \(repeats included; MAX_URL_MENTIONS\)/ }]
  })
  t.equal((perFile as { errors: unknown[] }).errors.length, 1, 'said once, at the row that crossed the limit')
})

t.test('malformed quotes are located', async (t) => {
  t.equal(malformedQuoteRow('a,b\n1,"x"y\n'), 2)
  t.equal(malformedQuoteRow('a,b\n1,"x\n2,3\n'), 2)
  t.equal(malformedQuoteRow('a,b\n1,"x "" y",z\n'), null)
  const result = await parseInputCsv(`${header}\n1,A,"https://a.example/1.jpg\n`, rules)
  t.match(result, { ok: false, errors: [{ row: 2, column: null, message: /malformed CSV/ }] })
})

t.test('rows checked one at a time: every problem counted, the first MAX_REPORTED_ERRORS kept', async (t) => {
  const rows = new InputRows({ ...rules, maxUrlMentions: 10_000 })
  rows.accept(header.split(','), 1)
  for (let i = 2; i < 1_207; i++)
    rows.accept([String(i), 'P', i % 2 ? 'ftp://a.example/x' : `https://a.example/${i}`], i)
  t.equal(rows.problems, 602)
  const errors = rows.finish()
  t.equal(errors.length, 602, 'under the cap: all listed')
  t.match(errors[0], { row: 3, message: /scheme "ftp"/ })
  const many = new InputRows(rules)
  many.accept(header.split(','), 1)
  for (let i = 2; i < 1_502; i++) many.accept(['x', 'P', 'https://a.example/1'], i)
  t.equal(many.problems, 1_500)
  t.equal(many.finish().length, MAX_REPORTED_ERRORS)
  const accepted = new InputRows(rules)
  accepted.accept(header.split(','), 1)
  t.same(accepted.accept(['1', 'A', 'https://a.example/1,https://a.example/2'], 2), {
    product: { serial: 1, name: 'A', image_ids: [0, 1] },
    newUrls: ['https://a.example/1', 'https://a.example/2']
  })
  t.same(
    accepted.accept(['2', 'B', 'https://a.example/2'], 3),
    {
      product: { serial: 2, name: 'B', image_ids: [1] },
      newUrls: []
    },
    'a URL seen before is not new'
  )
})
