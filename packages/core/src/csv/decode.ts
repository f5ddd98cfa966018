/**
 * Decodes an uploaded CSV chunk by chunk as strict UTF-8. A file saved in another encoding (Windows-1252,
 * Latin-1, UTF-16) is refused with a reason instead of being silently mangled into U+FFFD ("Café" → "Caf�").
 */
export class CsvDecoder {
  /** Why the bytes are not a UTF-8 text file, once known; later chunks are then ignored. */
  problem: string | null = null
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
  private offset = 0

  write(chunk: Buffer): string {
    if (this.problem) return ''
    if (this.offset === 0) {
      if (chunk[0] === 0xff && chunk[1] === 0xfe)
        return this.refuse('is UTF-16 (little-endian) text; save it as "CSV UTF-8" and upload again')
      if (chunk[0] === 0xfe && chunk[1] === 0xff)
        return this.refuse('is UTF-16 (big-endian) text; save it as "CSV UTF-8" and upload again')
    }
    const nul = chunk.indexOf(0)
    if (nul >= 0) return this.refuse('is binary, not a CSV text file')
    try {
      const text = this.decoder.decode(chunk, { stream: true })
      this.offset += chunk.length
      return text
    } catch {
      return this.refuse(
        `is not UTF-8 text (an invalid byte sequence within bytes ${this.offset + 1}–${this.offset + chunk.length}); save it as "CSV UTF-8" and upload again`
      )
    }
  }

  end(): string {
    if (this.problem) return ''
    try {
      return this.decoder.decode()
    } catch {
      return this.refuse(
        'is not UTF-8 text (it ends inside a multi-byte character); save it as "CSV UTF-8" and upload again'
      )
    }
  }

  private refuse(problem: string): string {
    this.problem = problem
    return ''
  }
}
