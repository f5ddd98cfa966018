import ipaddr from 'ipaddr.js'

/**
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (iana-ipv4-special-registry,
 * iana-ipv6-special-registry), one row per block. `global` is the registry's "Globally Reachable" column; N/A
 * (6to4, Teredo) is treated as not reachable, because their embedded IPv4 can point anywhere.
 */
export interface SpecialBlock {
  cidr: string
  name: string
  global: boolean
}

export const IPV4_SPECIAL: readonly SpecialBlock[] = [
  { cidr: '0.0.0.0/8', name: '"this network"', global: false },
  { cidr: '0.0.0.0/32', name: '"this host on this network"', global: false },
  { cidr: '10.0.0.0/8', name: 'private-use', global: false },
  { cidr: '100.64.0.0/10', name: 'shared (carrier-grade NAT)', global: false },
  { cidr: '127.0.0.0/8', name: 'loopback', global: false },
  { cidr: '169.254.0.0/16', name: 'link-local', global: false },
  { cidr: '172.16.0.0/12', name: 'private-use', global: false },
  { cidr: '192.0.0.0/24', name: 'IETF protocol assignments', global: false },
  { cidr: '192.0.0.0/29', name: 'IPv4 service continuity prefix', global: false },
  { cidr: '192.0.0.8/32', name: 'IPv4 dummy', global: false },
  { cidr: '192.0.0.9/32', name: 'port control protocol anycast', global: true },
  { cidr: '192.0.0.10/32', name: 'TURN anycast', global: true },
  { cidr: '192.0.0.170/32', name: 'NAT64/DNS64 discovery', global: false },
  { cidr: '192.0.0.171/32', name: 'NAT64/DNS64 discovery', global: false },
  { cidr: '192.0.2.0/24', name: 'documentation (TEST-NET-1)', global: false },
  { cidr: '192.31.196.0/24', name: 'AS112-v4', global: true },
  { cidr: '192.52.193.0/24', name: 'AMT', global: true },
  { cidr: '192.88.99.0/24', name: 'deprecated 6to4 relay anycast', global: false },
  { cidr: '192.88.99.2/32', name: '6a44-relay anycast', global: true },
  { cidr: '192.168.0.0/16', name: 'private-use', global: false },
  { cidr: '192.175.48.0/24', name: 'direct delegation AS112 service', global: true },
  { cidr: '198.18.0.0/15', name: 'benchmarking', global: false },
  { cidr: '198.51.100.0/24', name: 'documentation (TEST-NET-2)', global: false },
  { cidr: '203.0.113.0/24', name: 'documentation (TEST-NET-3)', global: false },
  { cidr: '240.0.0.0/4', name: 'reserved', global: false },
  { cidr: '255.255.255.255/32', name: 'limited broadcast', global: false }
]

export const IPV6_SPECIAL: readonly SpecialBlock[] = [
  { cidr: '::1/128', name: 'loopback', global: false },
  { cidr: '::/128', name: 'unspecified', global: false },
  { cidr: '::ffff:0:0/96', name: 'IPv4-mapped', global: false },
  { cidr: '64:ff9b::/96', name: 'IPv4-IPv6 translation', global: true },
  { cidr: '64:ff9b:1::/48', name: 'local-use IPv4-IPv6 translation', global: false },
  { cidr: '100::/64', name: 'discard-only', global: false },
  { cidr: '100:0:0:1::/64', name: 'dummy IPv6 prefix', global: false },
  { cidr: '2001::/23', name: 'IETF protocol assignments', global: false },
  { cidr: '2001::/32', name: 'Teredo', global: false },
  { cidr: '2001:1::1/128', name: 'port control protocol anycast', global: true },
  { cidr: '2001:1::2/128', name: 'TURN anycast', global: true },
  { cidr: '2001:1::3/128', name: 'DNS-SD service registration protocol anycast', global: true },
  { cidr: '2001:2::/48', name: 'benchmarking', global: false },
  { cidr: '2001:3::/32', name: 'AMT', global: true },
  { cidr: '2001:4:112::/48', name: 'AS112-v6', global: true },
  { cidr: '2001:10::/28', name: 'deprecated ORCHID', global: false },
  { cidr: '2001:20::/28', name: 'ORCHIDv2', global: true },
  { cidr: '2001:30::/28', name: 'drone remote ID protocol entity tags', global: true },
  { cidr: '2001:db8::/32', name: 'documentation', global: false },
  { cidr: '2002::/16', name: '6to4', global: false },
  { cidr: '2620:4f:8000::/48', name: 'direct delegation AS112 service', global: true },
  { cidr: '3fff::/20', name: 'documentation', global: false },
  { cidr: '5f00::/16', name: 'segment routing (SRv6) SIDs', global: false },
  { cidr: 'fc00::/7', name: 'unique-local', global: false },
  { cidr: 'fe80::/10', name: 'link-local', global: false }
]

/** Outside the registries but never a public unicast destination. */
const IPV4_OTHER: readonly SpecialBlock[] = [{ cidr: '224.0.0.0/4', name: 'multicast', global: false }]
const IPV6_OTHER: readonly SpecialBlock[] = [
  { cidr: '::/96', name: 'IPv4-compatible (deprecated)', global: false },
  { cidr: 'fec0::/10', name: 'site-local (deprecated)', global: false },
  { cidr: 'ff00::/8', name: 'multicast', global: false }
]

type Parsed = [ipaddr.IPv4 | ipaddr.IPv6, number]
const parse = (blocks: readonly SpecialBlock[]) =>
  blocks.map((b) => ({ ...b, range: ipaddr.parseCIDR(b.cidr) as Parsed }))
// Most specific block first: 192.0.0.9/32 (global) inside 192.0.0.0/24 (not) decides by the /32.
const bySpecificity = (a: { range: Parsed }, b: { range: Parsed }) => b.range[1] - a.range[1]
const V4 = parse([...IPV4_SPECIAL, ...IPV4_OTHER]).sort(bySpecificity)
const V6 = parse([...IPV6_SPECIAL, ...IPV6_OTHER]).sort(bySpecificity)
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3') as [ipaddr.IPv6, number]
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96') as [ipaddr.IPv6, number]

/**
 * Why an address is not a public destination (the name of its block), or null when it is. IPv4 carried in IPv6
 * (::ffff:a.b.c.d, and the NAT64 well-known prefix 64:ff9b::a.b.c.d) is judged as that IPv4. IPv6 outside
 * 2000::/3 is not allocated for global unicast and is refused too.
 */
export function nonPublicBlock(address: ipaddr.IPv4 | ipaddr.IPv6): string | null {
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6
    if (v6.isIPv4MappedAddress()) return nonPublicBlock(v6.toIPv4Address())
    if (v6.match(NAT64)) return nonPublicBlock(ipaddr.fromByteArray(v6.toByteArray().slice(12)))
    const block = V6.find((b) => b.range[0].kind() === 'ipv6' && v6.match(b.range as [ipaddr.IPv6, number]))
    if (block) return block.global ? null : block.name
    return v6.match(GLOBAL_UNICAST_V6) ? null : 'unallocated (outside 2000::/3)'
  }
  const v4 = address as ipaddr.IPv4
  const block = V4.find((b) => v4.match(b.range as [ipaddr.IPv4, number]))
  return block && !block.global ? block.name : null
}
