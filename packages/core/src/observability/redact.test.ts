import t from 'tap'
import { redactingDestination, redactSecrets, redactUrl } from './redact.ts'

t.test('query strings, fragments and credentials never reach the logs', async (t) => {
  t.equal(
    redactUrl('https://cdn.example/p/a.jpg?X-Amz-Signature=abc&token=s3cr3t'),
    'https://cdn.example/p/a.jpg?[redacted]'
  )
  t.equal(redactUrl('https://cdn.example/a.jpg#access_token=x'), 'https://cdn.example/a.jpg#[redacted]')
  t.equal(redactUrl('https://user:pw@cdn.example:8443/a.jpg'), 'https://***@cdn.example:8443/a.jpg')
  t.equal(redactUrl('http://[::1]:3000/a.jpg'), 'http://[::1]:3000/a.jpg', 'nothing to hide: unchanged')
  t.equal(redactUrl(`not a url ${'x'.repeat(100)}`).length, 80)
})

t.test('redactSecrets: credential parameters anywhere in a text, the rest kept', async (t) => {
  const signature = 'a'.repeat(64)
  t.equal(
    redactSecrets(`/images/r/0.webp?expires=1800000000&signature=${signature}`),
    '/images/r/0.webp?expires=1800000000&signature=[redacted]'
  )
  t.equal(
    redactSecrets(`GET http://h/requests/r/output.csv?signature=${signature}&expires=1`),
    'GET http://h/requests/r/output.csv?signature=[redacted]&expires=1',
    'absolute form, first parameter'
  )
  t.equal(
    redactSecrets('https://b.s3.example/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ff&x=1'),
    'https://b.s3.example/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&x=1'
  )
  t.equal(redactSecrets('/status/r?offset=10&limit=5'), '/status/r?offset=10&limit=5', 'paging stays')
  t.equal(redactSecrets('a "signature" word, and design=1'), 'a "signature" word, and design=1', 'not a parameter')
})

t.test('redactingDestination: a JSON log line leaves with no signature value', async (t) => {
  const lines: string[] = []
  const destination = redactingDestination({ write: (line: string) => lines.push(line) })
  const signature = 'b'.repeat(64)
  destination.write(
    `${JSON.stringify({ msg: 'incoming request', req: { url: `/images/r/0.webp?expires=1&signature=${signature}` } })}\n`
  )
  t.equal(lines.length, 1)
  t.notMatch(lines[0], signature)
  t.same(JSON.parse(lines[0]!).req.url, '/images/r/0.webp?expires=1&signature=[redacted]', 'still valid JSON')
})
