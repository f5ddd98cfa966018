import ipaddr from 'ipaddr.js'
import t from 'tap'
import { checkUrlSyntax, refuseAddress, refuseResolvedName } from './policy.ts'
import { IPV4_SPECIAL, IPV6_SPECIAL } from './special-addresses.ts'

// Each registry block judged by its first address. IPv4-mapped and NAT64 carry an IPv4 that decides instead.
const carriesIPv4: Record<string, [string, boolean][]> = {
  '::ffff:0:0/96': [
    ['::ffff:127.0.0.1', false],
    ['::ffff:10.1.2.3', false],
    ['::ffff:8.8.8.8', true]
  ],
  '64:ff9b::/96': [
    ['64:ff9b::8.8.8.8', true],
    ['64:ff9b::127.0.0.1', false],
    ['64:ff9b::169.254.169.254', false]
  ]
}

for (const [family, registry] of [
  ['IPv4', IPV4_SPECIAL],
  ['IPv6', IPV6_SPECIAL]
] as const) {
  t.test(`every block of the IANA ${family} special-purpose registry`, async (t) => {
    for (const block of registry) {
      const samples = carriesIPv4[block.cidr] ?? [[ipaddr.parseCIDR(block.cidr)[0].toString(), block.global]]
      for (const [address, reachable] of samples) {
        if (reachable)
          t.equal(refuseAddress(address), null, `${address} (${block.cidr}, ${block.name}) is globally reachable`)
        else
          t.match(
            refuseAddress(address),
            /^refused: .* address \(not public; /,
            `${address} (${block.cidr}, ${block.name}) is refused`
          )
      }
    }
  })
}

t.test(
  'outside the registries: IPv4-compatible ::/96, multicast, site-local and unallocated IPv6 are refused',
  async (t) => {
    for (const address of [
      '::127.0.0.1',
      '::7f00:1',
      '::8.8.8.8',
      '::10.0.0.1',
      '224.0.0.1',
      '239.255.255.250',
      'ff02::1',
      'fec0::1',
      '4000::1',
      '1::1'
    ]) {
      t.match(refuseAddress(address), /^refused: /, address)
    }
    t.match(
      checkUrlSyntax('http://[::127.0.0.1]/', { maxUrlLength: 100, allowPrivateNetworks: false }),
      /refused: ::7f00:1 is a IPv4-compatible \(deprecated\) address/
    )
  }
)

t.test('just outside each private block is public', async (t) => {
  for (const address of [
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.0',
    '198.20.0.0',
    '223.255.255.255',
    '11.0.0.1',
    '2001:200::1',
    '2001:db9::1',
    '2a00:1450::1',
    '3fff:1000::1'
  ]) {
    t.equal(refuseAddress(address), null, address)
  }
})

t.test('a refused DNS name does not say what it resolves to', async (t) => {
  t.equal(
    refuseResolvedName('db.internal'),
    'refused: db.internal resolves to a non-public address (set ALLOW_PRIVATE_NETWORKS=true to allow)'
  )
})
