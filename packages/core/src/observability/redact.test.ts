import t from 'tap'
import { redactUrl } from './redact.ts'

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
