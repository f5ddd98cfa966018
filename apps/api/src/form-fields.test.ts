import t from 'tap'
import Type from 'typebox'
import { decodeFormFields, describe } from './form-fields.ts'

const Form = Type.Object({
  file: Type.String({ format: 'binary' }),
  flag: Type.Optional(Type.Boolean()),
  quality: Type.Optional(
    Type.Union([
      Type.Integer({ minimum: 1, maximum: 100 }),
      Type.Union([Type.Literal('auto'), Type.Literal('auto:eco')])
    ])
  ),
  ratio: Type.Optional(Type.Number({ minimum: 0 })),
  format: Type.Optional(Type.Union([Type.Literal('jpeg'), Type.Literal('webp')])),
  name: Type.Optional(Type.String({ maxLength: 5 })),
  outputs: Type.Optional(Type.Array(Type.Union([Type.Literal('jpeg'), Type.Literal('webp')]))),
  sizes: Type.Optional(Type.Array(Type.Integer({ minimum: 1 }))),
  crop: Type.Optional(Type.Object({ width: Type.Integer(), height: Type.Integer() }))
})
const decode = (fields: Record<string, unknown>) => decodeFormFields(Form, { file: 'S. No.,…', ...fields })
const value = (fields: Record<string, unknown>) => {
  const decoded = decode(fields)
  return decoded.ok ? decoded.value : decoded.problem
}

t.test('booleans: true/false in any case, and 1/0', async (t) => {
  for (const text of ['true', 'True', 'TRUE', '1'])
    t.same(value({ flag: text }), { file: 'S. No.,…', flag: true }, text)
  for (const text of ['false', 'False', '0']) t.same(value({ flag: text }), { file: 'S. No.,…', flag: false }, text)
  t.same(decode({ flag: 'yes' }), {
    ok: false,
    problem: 'flag: expected true or false (any case), or 1 or 0; got "yes"'
  })
})

t.test('numbers: decimal strings, checked against the range', async (t) => {
  t.match(value({ quality: '70', ratio: '0.5' }), { quality: 70, ratio: 0.5 })
  t.match(value({ ratio: '+3' }), { ratio: 3 })
  for (const text of ['0x10', '1e3', '', ' ', 'Infinity'])
    t.match(
      decode({ ratio: text }),
      { ok: false, problem: /^ratio: expected a decimal number of at least 0; got/ },
      text
    )
  t.match(decode({ ratio: '-1' }), { ok: false }, 'below the minimum')
  t.match(decode({ quality: '7.5' }), { ok: false }, 'not an integer')
})

t.test('a union takes the first member the text reads as, and says every accepted value when none does', async (t) => {
  t.match(value({ quality: '70' }), { quality: 70 })
  t.match(value({ quality: 'auto:eco' }), { quality: 'auto:eco' })
  t.same(decode({ quality: '150' }), {
    ok: false,
    problem: 'quality: expected an integer from 1 to 100, or one of auto, auto:eco; got "150"'
  })
  t.same(decode({ format: 'gif' }), { ok: false, problem: 'format: expected one of jpeg, webp; got "gif"' })
})

t.test('text is kept as sent, within its limits', async (t) => {
  t.match(value({ name: 'a, b' }), { name: 'a, b' })
  t.same(decode({ name: 'toolong' }), {
    ok: false,
    problem: 'name: expected text of at most 5 characters; got "toolong"'
  })
})

t.test('a list: the field repeated, a comma list or a JSON array', async (t) => {
  t.match(value({ outputs: ['jpeg', 'webp'] }), { outputs: ['jpeg', 'webp'] })
  t.match(value({ outputs: 'jpeg, webp' }), { outputs: ['jpeg', 'webp'] })
  t.match(value({ outputs: '["webp"]' }), { outputs: ['webp'] })
  t.match(value({ sizes: '100,200' }), { sizes: [100, 200] })
  t.match(value({ sizes: '[100, 200]' }), { sizes: [100, 200] })
  t.match(value({ sizes: ['100'] }), { sizes: [100] })
  t.match(decode({ outputs: 'jpeg,gif' }), {
    ok: false,
    problem: /^outputs: expected a list of one of jpeg, webp \(repeat the field, or send a JSON array or a comma list\)/
  })
  t.match(decode({ sizes: '[100, "x"]' }), { ok: false })
  t.match(decode({ sizes: '[1,' }), { ok: false }, 'JSON that does not parse')
})

t.test('an object: a JSON value', async (t) => {
  t.match(value({ crop: '{"width": 10, "height": 20}' }), { crop: { width: 10, height: 20 } })
  t.same(decode({ crop: '{"width": 10}' }), {
    ok: false,
    problem: 'crop: expected a JSON object; got "{\\"width\\": 10}"'
  })
  t.match(decode({ crop: '[1]' }), { ok: false })
})

t.test('a scalar field sent twice, or a field the form does not take, is refused by name', async (t) => {
  t.same(decode({ flag: ['true', 'false'] }), { ok: false, problem: 'flag: sent 2 times; send it once' })
  t.match(value({ flag: ['true'] }), { flag: true }, 'once, as a one-item list, is once')
  t.same(decode({ colour: 'red' }), {
    ok: false,
    problem: 'unknown field "colour"; the form takes file, flag, quality, ratio, format, name, outputs, sizes, crop'
  })
  t.match(decode({ flag: 'x', format: 'y' }), { ok: false, problem: /^flag: .*; format: / }, 'every problem at once')
})

t.test('the file part is passed through as the file handler read it', async (t) => {
  t.same(value({}), { file: 'S. No.,…' })
})

t.test('describe says what a schema accepts', async (t) => {
  t.equal(describe(Type.Integer()), 'an integer')
  t.equal(describe(Type.Integer({ maximum: 9 })), 'an integer of at most 9')
  t.equal(describe(Type.Literal('x')), 'x')
  t.equal(describe(Type.String()), 'text')
})
