/**
 * How @fastify/swagger should show a route's TypeBox schemas, as pure functions of them: sub-schemas equal to
 * named ones become $refs, unions of constants become enums, and inputs with a default become optional.
 */
import { isDeepStrictEqual } from 'node:util'
import type { TSchema } from 'typebox'

export type Components = Record<string, TSchema>
type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
// Compared as JSON data: a schema copied by Type.Partial is the same schema as the one it was copied from.
const plain = (schema: unknown): unknown => JSON.parse(JSON.stringify(schema))
const withoutDescription = ({ description: _d, ...rest }: Json) => rest

const REF = '#/components/schemas/'

/** A schema with another description (a response's, a field's); still the same named schema in the document. */
export function described<T extends TSchema>(schema: T, description: string): T {
  return { ...schema, description }
}

/**
 * A route's schema as the document shows it: every sub-schema equal to a named one (apart from its description)
 * becomes a $ref to it, and a union of constants becomes one enum of its type (generators make one enum type
 * instead of a type per constant). `self` is the component being written, which must not refer to itself.
 */
export function documentSchema(schema: unknown, components: Components, self?: string): unknown {
  const named = Object.entries(components).map(([name, s]) => [name, withoutDescription(plain(s) as Json)] as const)
  const visit = (node: unknown, root: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => visit(n, false))
    if (!isObject(node)) return node
    const data = withoutDescription(plain(node) as Json)
    const match = named.find(([name, s]) => !(root && name === self) && isDeepStrictEqual(data, s))
    if (match) return { $ref: REF + match[0], ...(node.description ? { description: node.description } : {}) }
    const out: Json = {}
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && isObject(value))
        out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v, false)]))
      else if (SUBSCHEMAS.has(key)) out[key] = visit(value, false)
      else out[key] = value
    }
    return constantsAsEnum(out)
  }
  return visit(schema, true)
}

const SUBSCHEMAS = new Set(['items', 'additionalProperties', 'anyOf', 'oneOf', 'allOf', 'not'])

/** `anyOf: [{type: string, const: a}, {type: string, const: b}, X]` → `anyOf: [{type: string, enum: [a, b]}, X]`. */
function constantsAsEnum(schema: Json): Json {
  const members = schema.anyOf
  if (!Array.isArray(members)) return schema
  const isConstant = (m: unknown): m is { type: string; const: unknown } =>
    isObject(m) && typeof m.type === 'string' && 'const' in m && Object.keys(m).length === 2
  const merged: Json[] = []
  for (const member of members) {
    const same = isConstant(member) && merged.find((m) => Array.isArray(m.enum) && m.type === member.type)
    if (same) (same.enum as unknown[]).push(member.const)
    else merged.push(isConstant(member) ? { type: member.type, enum: [member.const] } : (member as Json))
  }
  const { anyOf: _members, ...rest } = schema
  return merged.length === 1 ? { ...rest, ...merged[0] } : { ...rest, anyOf: merged }
}

export type RouteSchema = {
  body?: unknown
  response?: Record<string, unknown>
  [key: string]: unknown
}

/**
 * The route's schemas as the document shows them: body and responses refer to named schemas (params, query and
 * headers stay inline), and an input field with a default is one a client may leave out.
 */
export function documentRoute(schema: RouteSchema | undefined, components: Components): RouteSchema | undefined {
  if (!schema) return schema
  const response = schema.response
  return {
    ...schema,
    ...(schema.querystring ? { querystring: defaultsOptional(schema.querystring) } : {}),
    ...(schema.body ? { body: documentSchema(defaultsOptional(schema.body), components) } : {}),
    ...(response
      ? {
          response: Object.fromEntries(
            Object.entries(response).map(([code, r]) => [code, documentResponse(r, components)])
          )
        }
      : {})
  }
}

/** An object schema whose fields with a default are not required: validation fills them in when left out. */
function defaultsOptional(schema: unknown): unknown {
  if (!isObject(schema) || !isObject(schema.properties) || !Array.isArray(schema.required)) return schema
  const properties = schema.properties
  const required = schema.required.filter((name) => !(isObject(properties[name]) && 'default' in properties[name]))
  const { required: _all, ...rest } = schema
  return required.length > 0 ? { ...rest, required } : rest
}

/** A response: its description and headers as they are, its body schema (or each media type's) documented. */
function documentResponse(response: unknown, components: Components): unknown {
  if (!isObject(response)) return response
  const { description, headers, content, ...schema } = response
  const about = { ...(description ? { description } : {}), ...(headers ? { headers } : {}) }
  if (!isObject(content)) return { ...about, ...(documentSchema(schema, components) as Json) }
  const media = Object.entries(content).map(([type, m]) => [
    type,
    isObject(m) ? { ...m, schema: documentSchema(m.schema, components) } : m
  ])
  return { ...about, content: Object.fromEntries(media) }
}
