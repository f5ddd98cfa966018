import type { TSchema } from 'typebox'
import Value from 'typebox/value'

/**
 * multipart/form-data fields arrive as text; generated clients write the same value in different ways (Python's
 * openapi-python-client sends `True`, Go's and TypeScript's `true`). The form's schema decides how each field's
 * text is read:
 * - boolean: `true`/`false` in any case, or `1`/`0`;
 * - integer and number: a decimal string;
 * - a union: the first member the text reads as (so `70` is the integer and `auto` the constant);
 * - array: the field repeated, or one value holding a JSON array or a comma list, each item read as above;
 * - object: a JSON value.
 * Anything else, or a value outside the schema's range, is a problem naming the field and what it accepts.
 */
export type FormFields = Record<string, unknown>
export type Decoded = { ok: true; value: FormFields } | { ok: false; problem: string }

type Schema = TSchema & {
  type?: string
  const?: unknown
  enum?: unknown[]
  anyOf?: Schema[]
  items?: Schema
  properties?: Record<string, Schema>
  minimum?: number
  maximum?: number
  maxLength?: number
  format?: string
}

/** A field with a reader of its own (its problems named more precisely than the schema could). */
export type FieldReader = (raw: unknown) => { ok: true; value: unknown } | { ok: false; problem: string }

/** `fields` as @fastify/multipart gives them (a string, or an array of strings for a repeated field). */
export function decodeFormFields(
  form: TSchema,
  fields: FormFields,
  readers: Record<string, FieldReader> = {}
): Decoded {
  const properties = (form as Schema).properties ?? {}
  const value: FormFields = {}
  const problems: string[] = []
  for (const [name, raw] of Object.entries(fields)) {
    const schema = properties[name]
    if (!schema) {
      problems.push(`unknown field "${name}"; the form takes ${Object.keys(properties).join(', ')}`)
      continue
    }
    const reader = readers[name]
    if (reader) {
      const read = reader(raw)
      if (read.ok) value[name] = read.value
      else problems.push(read.problem)
      continue
    }
    if (schema.format === 'binary') {
      value[name] = raw // a file part, read by the file handler
      continue
    }
    // A scalar field sent twice: which value was meant is not ours to guess.
    if (Array.isArray(raw) && raw.length > 1 && schema.type !== 'array') {
      problems.push(`${name}: sent ${raw.length} times; send it once`)
      continue
    }
    const decoded = decodeField(schema, raw)
    if (decoded === INVALID || !Value.Check(schema, decoded))
      problems.push(`${name}: expected ${describe(schema)}; got ${shown(raw)}`)
    else value[name] = decoded
  }
  return problems.length > 0 ? { ok: false, problem: problems.join('; ') } : { ok: true, value }
}

const INVALID = Symbol('invalid')
type Read = unknown | typeof INVALID

function decodeField(schema: Schema, raw: unknown): Read {
  if (schema.type === 'array') return decodeList(schema.items ?? {}, raw)
  return decodeText(schema, Array.isArray(raw) ? raw[0] : raw)
}

function decodeList(items: Schema, raw: unknown): Read {
  let values: unknown[]
  if (Array.isArray(raw)) values = raw
  else if (typeof raw !== 'string') return INVALID
  else if (raw.trimStart().startsWith('[')) {
    const parsed = parseJson(raw)
    if (!Array.isArray(parsed)) return INVALID
    // JSON items are already typed: only text items are read by the item schema.
    return parsed.map((item) => (typeof item === 'string' ? decodeText(items, item) : item))
  } else values = raw.split(',').map((item) => item.trim())
  const decoded = values.map((v) => decodeText(items, v))
  return decoded.includes(INVALID) ? INVALID : decoded
}

const DECIMAL_INTEGER = /^[+-]?\d+$/
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/

function decodeText(schema: Schema, raw: unknown): Read {
  if (typeof raw !== 'string') return INVALID
  if (schema.anyOf) {
    for (const member of schema.anyOf) {
      const read = decodeText(member, raw)
      if (read !== INVALID && Value.Check(member, read)) return read
    }
    return INVALID
  }
  switch (schema.type) {
    case 'boolean': {
      const text = raw.trim().toLowerCase()
      if (text === 'true' || text === '1') return true
      if (text === 'false' || text === '0') return false
      return INVALID
    }
    case 'integer':
      return DECIMAL_INTEGER.test(raw.trim()) ? Number(raw) : INVALID
    case 'number':
      return DECIMAL.test(raw.trim()) ? Number(raw) : INVALID
    case 'object': {
      const parsed = parseJson(raw)
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : INVALID
    }
    default:
      return raw
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return INVALID
  }
}

/** What a field accepts, in words: "an integer from 1 to 100, or one of auto, auto:eco". */
export function describe(schema: Schema): string {
  if (schema.anyOf) {
    const constants = schema.anyOf.filter((m) => 'const' in m).map((m) => String(m.const))
    const others = schema.anyOf.filter((m) => !('const' in m)).map(describe)
    if (constants.length > 0) others.push(constants.length === 1 ? constants[0]! : `one of ${constants.join(', ')}`)
    return others.join(', or ')
  }
  if ('const' in schema) return String(schema.const)
  if (schema.enum) return `one of ${schema.enum.join(', ')}`
  switch (schema.type) {
    case 'boolean':
      return 'true or false (any case), or 1 or 0'
    case 'integer':
      return `an integer${range(schema)}`
    case 'number':
      return `a decimal number${range(schema)}`
    case 'array':
      return `a list of ${describe(schema.items ?? {})} (repeat the field, or send a JSON array or a comma list)`
    case 'object':
      return 'a JSON object'
    case 'string':
      return schema.maxLength === undefined ? 'text' : `text of at most ${schema.maxLength} characters`
    default:
      return 'a value'
  }
}

function range({ minimum, maximum }: Schema): string {
  if (minimum !== undefined && maximum !== undefined) return ` from ${minimum} to ${maximum}`
  if (minimum !== undefined) return ` of at least ${minimum}`
  if (maximum !== undefined) return ` of at most ${maximum}`
  return ''
}

function shown(raw: unknown): string {
  const text = JSON.stringify(Array.isArray(raw) && raw.length === 1 ? raw[0] : raw)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
