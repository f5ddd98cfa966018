/** Real slow clients over TCP: an upload whose body is written a few bytes at a time, or not at all. */
import { connect } from 'node:net'

export interface SlowUploadResult {
  /** The status code of the server's answer, or null if it closed without one. */
  status: number | null
  /** Everything the server sent. */
  reply: string
  /** From connecting until the first byte of the answer, or null for none. */
  answeredAfterMs: number | null
  /** From connecting until the server closed the connection. */
  closedAfterMs: number
  /** Body bytes written when the answer came (all of them, if none came). */
  bodySentBeforeAnswer: number
}

export interface SlowUpload {
  done: Promise<SlowUploadResult>
  /** Body bytes written so far. */
  sent(): number
  /** The result once the connection has closed, else null. */
  result(): SlowUploadResult | null
  stop(): void
}

/** A multipart/form-data body carrying `csv` as the file part `file`. */
export function multipartBody(boundary: string, csv: string): string {
  return `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="p.csv"\r\ncontent-type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`
}

/**
 * POSTs /upload from `from` (a loopback address: each is a client address of its own) with the whole body's
 * content-length, then writes `chunk` bytes of it every `everyMs`; `chunk: 0` sends the headers only.
 */
export function slowUpload(
  port: number,
  options: { body: string; everyMs: number; chunk: number; from?: string; headers?: Record<string, string> }
): SlowUpload {
  const boundary = /^--([^\r]+)\r\n/.exec(options.body)?.[1] ?? 'x'
  const headers = {
    host: '127.0.0.1',
    'content-type': `multipart/form-data; boundary=${boundary}`,
    'content-length': String(Buffer.byteLength(options.body)),
    ...options.headers
  }
  const body = Buffer.from(options.body)
  let offset = 0
  let timer: NodeJS.Timeout | undefined
  const started = Date.now()
  const socket = connect({ port, host: '127.0.0.1', localAddress: options.from ?? '127.0.0.1' }, () => {
    socket.write(
      `POST /upload HTTP/1.1\r\n${Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')}\r\n`
    )
    if (options.chunk <= 0) return
    timer = setInterval(() => {
      if (socket.destroyed || offset >= body.length || answeredAt !== null) return clearInterval(timer)
      socket.write(body.subarray(offset, offset + options.chunk))
      offset = Math.min(body.length, offset + options.chunk)
    }, options.everyMs)
  })
  let reply = ''
  let answeredAt: number | null = null
  let sentBeforeAnswer = -1
  let closed: SlowUploadResult | null = null
  const done = new Promise<SlowUploadResult>((resolve) => {
    socket.on('data', (c: Buffer) => {
      if (answeredAt === null) {
        answeredAt = Date.now()
        sentBeforeAnswer = offset
      }
      reply += c.toString('latin1')
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearInterval(timer)
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(reply)?.[1]
      closed = {
        status: status ? Number(status) : null,
        reply,
        answeredAfterMs: answeredAt === null ? null : answeredAt - started,
        closedAfterMs: Date.now() - started,
        bodySentBeforeAnswer: sentBeforeAnswer < 0 ? offset : sentBeforeAnswer
      }
      resolve(closed)
    })
  })
  return {
    done,
    sent: () => offset,
    result: () => closed,
    stop: () => {
      clearInterval(timer)
      socket.destroy()
    }
  }
}

/** The JSON body of a raw HTTP/1.1 answer. */
export function replyJson(reply: string): Record<string, unknown> {
  return JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))
}
