import t from 'tap'
import { resolveSpec } from '../output-sets/spec.ts'
import { DEFAULT_OPTIONS } from '../requests/contracts.ts'
import {
  CONTENT_FILE_PATTERN,
  canonicalJson,
  contentKey,
  isContentKey,
  optionsHash,
  outputNameKey,
  outputSpecHash,
  sha256Hex,
  tenantScope
} from './keys.ts'

const secret = 'a-secret-of-sixteen+'

t.test(
  'a tenant scope is stable per tenant, different between tenants and secrets, and not the tenant id',
  async (t) => {
    const a = tenantScope(secret, 'key:aaaa')
    t.equal(a, tenantScope(secret, 'key:aaaa'))
    t.match(a, /^[0-9a-f]{32}$/)
    t.not(a, tenantScope(secret, 'key:bbbb'), 'two tenants, two scopes')
    t.not(a, tenantScope('another-secret-of-16', 'key:aaaa'), 'keyed by the secret')
    t.equal(tenantScope(secret, undefined), tenantScope(secret, ''), 'without API keys: one tenant')
    t.notOk(a.includes('aaaa'))
  }
)

t.test('canonical JSON ignores key order and undefined fields', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}')
})

t.test('the options hash changes with every setting that decides the output, and only those', async (t) => {
  const base = optionsHash(DEFAULT_OPTIONS)
  t.match(base, /^[0-9a-f]{16}$/)
  t.equal(optionsHash({ ...DEFAULT_OPTIONS }), base)
  t.equal(optionsHash({ mozjpeg: false, format: 'original', quality: 50 }), base, 'key order does not matter')
  for (const changed of [
    { quality: 51 },
    { quality: 'auto' as const },
    { format: 'webp' as const },
    { max_width: 800 },
    { max_height: 800 },
    { mozjpeg: true }
  ])
    t.not(optionsHash({ ...DEFAULT_OPTIONS, ...changed }), base, JSON.stringify(changed))
  t.equal(optionsHash({ ...DEFAULT_OPTIONS, reuse: false } as never), base, 'other fields are not settings')
})

t.test("an output's hash leaves out its name and preset", async (t) => {
  const spec = resolveSpec({ name: 'main', format: 'webp', width: 800 })
  t.equal(outputSpecHash({ ...spec, name: 'hero' }), outputSpecHash(spec), 'the name is a label')
  t.equal(outputSpecHash({ ...spec, preset: 'web' }), outputSpecHash(spec), 'so is the preset')
  t.not(outputSpecHash({ ...spec, width: 801 }), outputSpecHash(spec))
  t.not(outputSpecHash({ ...spec, format: 'avif' }), outputSpecHash(spec))
  t.not(outputSpecHash(spec), optionsHash(DEFAULT_OPTIONS))
})

t.test('content keys: the scope, and a name keyed per tenant, served by their own file pattern', async (t) => {
  const sha = sha256Hex(Buffer.from('image bytes'))
  t.match(sha, /^[0-9a-f]{64}$/)
  const scope = tenantScope(secret, 'key:aaaa')
  const nameKey = outputNameKey(secret, 'key:aaaa')
  const key = contentKey(scope, nameKey, sha, 'a'.repeat(16), 'webp')
  t.equal(contentKey(scope, nameKey, sha, 'a'.repeat(16), 'webp'), key, 'deterministic: stable URLs')
  t.match(key, new RegExp(`^o/${scope}/[0-9a-f]{64}\\.webp$`))
  t.notOk(key.includes(sha), 'the source hash is not in the URL')
  t.notOk(key.includes('a'.repeat(16)), 'nor the settings hash')
  t.notOk(key.includes(nameKey.slice(0, 16)), 'nor the name key')
  t.not(nameKey.slice(0, 32), scope, 'the name key is not the scope')
  t.not(contentKey(scope, nameKey, sha, 'b'.repeat(16), 'webp'), key, 'other settings, another name')
  t.not(contentKey(scope, outputNameKey(secret, 'key:bbbb'), sha, 'a'.repeat(16), 'webp'), key, 'keyed per tenant')
  t.not(contentKey(scope, outputNameKey('another-secret-of-16', 'key:aaaa'), sha, 'a'.repeat(16), 'webp'), key)
  t.ok(isContentKey(key))
  t.notOk(isContentKey('2f1c7e0e-0000-4000-8000-000000000000/0.webp'))
  t.match(key.split('/')[2]!, new RegExp(CONTENT_FILE_PATTERN))
  t.notMatch('../x.webp', new RegExp(CONTENT_FILE_PATTERN))
})
