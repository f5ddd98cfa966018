import t from 'tap'
import { CsvDecoder } from './decode.ts'

const decodeAll = (chunks: Buffer[]) => {
  const decoder = new CsvDecoder()
  const text = chunks.map((c) => decoder.write(c)).join('') + decoder.end()
  return { text, problem: decoder.problem }
}

t.test('UTF-8 passes, even with a character split across chunks and a BOM', async (t) => {
  const bytes = Buffer.from('\uFEFFS. No.,Product Name\n1,Café crème\n', 'utf8')
  const split = bytes.indexOf(0xc3) + 1 // inside "é"
  t.same(decodeAll([bytes.subarray(0, split), bytes.subarray(split)]), {
    text: 'S. No.,Product Name\n1,Café crème\n',
    problem: null
  })
})

t.test('other encodings are refused with a reason, not mangled', async (t) => {
  t.match(decodeAll([Buffer.from('1,Caf\xe9\n', 'latin1')]).problem, /^is not UTF-8 text .* save it as "CSV UTF-8"/)
  t.match(decodeAll([Buffer.from('\uFEFF1,Café\n', 'utf16le')]).problem, /^is UTF-16 \(little-endian\)/)
  t.match(decodeAll([Buffer.from([0xfe, 0xff, 0, 0x31])]).problem, /^is UTF-16 \(big-endian\)/)
  t.match(decodeAll([Buffer.from('1,Caf'), Buffer.from([0xc3])]).problem, /ends inside a multi-byte character/)
  t.equal(decodeAll([Buffer.from('PK\x03\x04\x00\x00', 'latin1')]).problem, 'is binary, not a CSV text file')
})
