import { isIP } from 'node:net'
import ipaddr from 'ipaddr.js'

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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme "${url.protocol.slice(0, -1)}" is not allowed; use http or https`
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
 * Why connecting to this address is refused, or null when it is public unicast.
 * IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 it carries.
 */
export function refuseAddress(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6
  try {
    parsed = ipaddr.process(address)
  } catch {
    return `"${address}" is not an IP address`
  }
  const range = parsed.range()
  return range === 'unicast' ? null : `refused: ${address} is a ${range} address (set ALLOW_PRIVATE_NETWORKS=true to allow)`
}
