import t from 'tap'
import Type from 'typebox'
import { described, documentRoute, documentSchema } from './openapi-schema.ts'

const Counts = Type.Object({ total: Type.Integer(), failed: Type.Integer() })
const State = Type.Union([Type.Literal('pending'), Type.Literal('done')], { description: 'Where it is' })
const Report = Type.Object({ counts: Counts, state: State, note: Type.Optional(Type.String()) })
const components = { Counts, State, Report }

t.test('a schema equal to a named one becomes a $ref to it, keeping its own description', async (t) => {
  t.same(documentSchema(Report, components), { $ref: '#/components/schemas/Report' })
  t.same(documentSchema(described(Report, 'The report of one run'), components), {
    $ref: '#/components/schemas/Report',
    description: 'The report of one run'
  })
  t.same(
    documentSchema(Type.Object({ copy: Type.Partial(Report).properties.counts! }), components),
    { type: 'object', properties: { copy: { $ref: '#/components/schemas/Counts' } } },
    'a copy (Type.Partial copies its members) is the same schema'
  )
})

t.test('a named schema refers to the others but not to itself', async (t) => {
  t.same(documentSchema(Report, components, 'Report'), {
    type: 'object',
    required: ['counts', 'state'],
    properties: {
      counts: { $ref: '#/components/schemas/Counts' },
      state: { $ref: '#/components/schemas/State', description: 'Where it is' },
      note: { type: 'string' }
    }
  })
})

t.test('a union of constants is one enum of their type; other members stay beside it', async (t) => {
  t.same(documentSchema(State, {}), { description: 'Where it is', type: 'string', enum: ['pending', 'done'] })
  t.same(
    documentSchema(Type.Union([Type.Integer(), Type.Literal('auto'), Type.Literal('auto:eco')], { default: 5 }), {}),
    { default: 5, anyOf: [{ type: 'integer' }, { type: 'string', enum: ['auto', 'auto:eco'] }] }
  )
  t.same(
    documentSchema(Type.Union([Type.Literal(1), Type.Literal('one')]), {}),
    {
      anyOf: [
        { type: 'number', enum: [1] },
        { type: 'string', enum: ['one'] }
      ]
    },
    'constants of different types are not mixed'
  )
})

t.test("the document's routes: named bodies and responses, and inputs with a default are optional", async (t) => {
  const Query = Type.Object({ offset: Type.Integer({ default: 0 }), id: Type.String() })
  const schema = {
    querystring: Query,
    response: { 200: { description: 'Ok', headers: { etag: { type: 'string' } }, ...Type.Object({}) } }
  }
  const out = documentRoute(schema, components) as typeof schema
  t.same(out.querystring, { type: 'object', required: ['id'], properties: Query.properties })
  t.same(out.response[200], {
    description: 'Ok',
    headers: { etag: { type: 'string' } },
    type: 'object',
    properties: {}
  })
})
