import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'
import { nonPublicBlock } from './special-addresses.ts'

export interface UrlRules {
  maxUrlLength: number
  allowPrivateNetworks: boolean
}

/** Why a URL can never be fetched, decided from its text alone (upload time); null when it may be tried. */
export function checkUrlSyntax(text: string, rules: UrlRules): string | null {
  if (text.length > rules.maxUrlLength) return `longer than ${rules.maxUrlLength} characters`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return 'not an absolute URL'
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `scheme "${url.protocol.slice(0, -1)}" is not allowed; use http or https`
  if (url.hostname === '') return 'has no host'
  if (url.username || url.password) return 'must not carry credentials'
  const literal = hostLiteral(url.hostname)
  if (literal && !rules.allowPrivateNetworks) {
    const refusal = refuseAddress(literal)
    if (refusal) return refusal
  }
  return null
}

/** The IP literal inside a URL hostname ("[::1]" → "::1"), or null for a DNS name. */
export function hostLiteral(hostname: string): string | null {
  const bare = hostname.replace(/^\[|\]$/g, '')
  return isIP(bare) ? bare : null
}

/**
 * Why connecting to this address literal is refused, or null when it is public (see nonPublicBlock: the IANA
 * special-purpose registries). The literal is the customer's own text, so naming it leaks nothing.
 */
export function refuseAddress(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    // ipaddr.js reads "::a.b.c.d" (IPv4-compatible) as IPv4-mapped; the URL parser's canonical form is unambiguous.
    parsed = ipaddr.parse(isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address)
  } catch {
    return `"${address}" is not an IP address`
  }
  const block = nonPublicBlock(parsed)
  return block === null
    ? null
    : `refused: ${address} is a ${block} address (not public; set ALLOW_PRIVATE_NETWORKS=true to allow)`
}

/**
 * The refusal for a DNS name that resolved to a non-public address. It never says which address: that would
 * let anyone map our internal names through upload errors.
 */
export function refuseResolvedName(hostname: string): string {
  return `refused: ${hostname} resolves to a non-public address (set ALLOW_PRIVATE_NETWORKS=true to allow)`
}
