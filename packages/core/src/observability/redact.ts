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

// Query parameters that are credentials: our output links' signature, and the usual signed-URL and token names.
const SECRET_PARAMETER =
  /([?&;](?:signature|sig|token|access_token|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&#\s"'\\]*/gi

/**
 * Any text (a log line, a path with its query, a message) with the values of credential query parameters
 * replaced by `[redacted]`; everything else, `expires` and paging parameters included, stays for debugging.
 */
export function redactSecrets(text: string): string {
  return text.replace(SECRET_PARAMETER, '$1[redacted]')
}

/**
 * A pino destination that writes each line through redactSecrets: every field of every line (request URLs,
 * messages, error stacks) is covered, whoever logged it. API and worker log through it.
 */
export function redactingDestination(out: { write(line: string): unknown } = process.stdout): {
  write(line: string): void
} {
  return {
    write(line) {
      out.write(redactSecrets(line))
    }
  }
}
