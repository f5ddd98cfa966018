/**
 * A URL as it may appear in logs: query strings and fragments often carry signed tokens, and userinfo carries
 * passwords, so they are replaced by a marker; scheme, host and path stay for debugging. Text that is not a URL
 * is clipped instead of printed whole.
 */
export function redactUrl(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return text.length > 80 ? `${text.slice(0, 77)}...` : text
  }
  const userinfo = url.username || url.password ? '***@' : ''
  const query = url.search ? '?[redacted]' : ''
  const fragment = url.hash ? '#[redacted]' : ''
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}${fragment}`
}
