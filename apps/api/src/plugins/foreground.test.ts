import { Readable } from 'node:stream'
import Fastify from 'fastify'
import t from 'tap'
import foreground from './foreground.ts'

async function appWithRoutes() {
  const app = Fastify()
  await app.register(foreground)
  const seen: number[] = []
  app.get('/read', async () => {
    seen.push(app.foreground.inFlight)
    return { ok: true }
  })
  app.post('/bulk', { config: { bulk: true } }, async () => {
    seen.push(app.foreground.inFlight)
    return { ok: true }
  })
  app.get('/fails', async () => {
    seen.push(app.foreground.inFlight)
    throw new Error('boom')
  })
  return { app, seen }
}

t.test('every route but a bulk one counts as foreground while it is answered, and no longer after', async (t) => {
  const { app, seen } = await appWithRoutes()
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/read' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/bulk' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/fails' })).statusCode, 500)
  t.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404)
  t.same(seen, [1, 0, 1], 'the read and the failing route counted themselves; the bulk route did not')
  t.equal(app.foreground.inFlight, 0, 'answered, failed and unknown routes all ended')
})

t.test('a request whose client goes away mid-answer ends too', async (t) => {
  const { app } = await appWithRoutes()
  let release!: () => void
  app.get('/slow', async () => {
    await new Promise<void>((resolve) => {
      release = resolve
    })
    return { ok: true }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const abort = new AbortController()
  const { port } = app.server.address() as { port: number }
  const request = fetch(`http://127.0.0.1:${port}/slow`, { signal: abort.signal }).catch(() => 'aborted')
  while (app.foreground.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  abort.abort()
  t.equal(await request, 'aborted')
  while (app.foreground.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(app.foreground.inFlight, 0, 'the closed connection ended the request before its handler did')
  release()
})

t.test('sending a response does not count: a slow download does not hold uploads back', async (t) => {
  const { app } = await appWithRoutes()
  const body = new Readable({ read() {} })
  app.get('/download', async (_request, reply) => reply.type('application/octet-stream').send(body))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  body.push(Buffer.alloc(1024))
  const res = await fetch(`http://127.0.0.1:${port}/download`)
  t.equal(res.status, 200, 'headers are in; the body is still coming')
  t.equal(app.foreground.inFlight, 0, 'the request left the foreground once its response was ready')
  body.push(null)
  t.equal((await res.arrayBuffer()).byteLength, 1024)
})
