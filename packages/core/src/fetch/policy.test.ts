import t from 'tap'
import { checkUrlSyntax, refuseAddress } from './policy.ts'

t.test('refuses every non-public address family', async (t) => {
  const refused = [
    '127.0.0.1',
    '127.8.9.10',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '224.0.0.1',
    '0.0.0.0',
    '255.255.255.255',
    '::1',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254'
  ]
  for (const address of refused) t.match(refuseAddress(address), /^refused: /, address)
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
    t.equal(refuseAddress(address), null, address)
})

t.test('URL syntax rules at upload time', async (t) => {
  const strict = { maxUrlLength: 100, allowPrivateNetworks: false }
  t.equal(checkUrlSyntax('https://cdn.example/a.jpg', strict), null)
  t.match(checkUrlSyntax('file:///etc/passwd', strict), /scheme "file"/)
  t.match(checkUrlSyntax('gopher://x.example/', strict), /scheme "gopher"/)
  t.match(checkUrlSyntax('/relative.jpg', strict), /not an absolute URL/)
  t.match(checkUrlSyntax('http://[::ffff:7f00:1]/x', strict), /refused/)
  t.match(checkUrlSyntax('http://2130706433/x', strict), /refused/, 'decimal IPv4 is normalised by URL')
  t.equal(checkUrlSyntax('http://127.0.0.1:8080/x', { ...strict, allowPrivateNetworks: true }), null)
})
