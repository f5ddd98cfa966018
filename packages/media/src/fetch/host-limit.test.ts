import t from 'tap'
import { HostLimiter } from './host-limit.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

t.test('at most N at once per host; other hosts are not held up', async (t) => {
  const limiter = new HostLimiter(2, 0)
  const active = new Map<string, number>()
  const peak = new Map<string, number>()
  const job = (host: string) =>
    limiter.run(`http://${host}/x.jpg`, async () => {
      active.set(host, (active.get(host) ?? 0) + 1)
      peak.set(host, Math.max(peak.get(host) ?? 0, active.get(host)!))
      await sleep(20)
      active.set(host, active.get(host)! - 1)
    })
  await Promise.all([
    ...Array.from({ length: 8 }, () => job('a.example')),
    ...Array.from({ length: 8 }, () => job('B.example:8080'))
  ])
  t.equal(peak.get('a.example'), 2)
  t.equal(peak.get('B.example:8080'), 2)
  t.equal(limiter.trackedHosts, 0, 'idle hosts are forgotten')
})

t.test('starts per second are spaced per host', async (t) => {
  const limiter = new HostLimiter(10, 20) // one start every 50 ms
  const starts: number[] = []
  const t0 = Date.now()
  await Promise.all(
    Array.from({ length: 5 }, () =>
      limiter.run('http://a.example/1.jpg', async () => void starts.push(Date.now() - t0))
    )
  )
  t.ok(starts.at(-1)! >= 190, `the fifth start waited for its turn (${starts.at(-1)} ms)`)
  const other: number[] = []
  await limiter.run('http://c.example/1.jpg', async () => void other.push(Date.now() - t0))
  t.ok(other[0]! - starts.at(-1)! < 40, 'another host starts at once')
})

t.test('a failing download frees its slot', async (t) => {
  const limiter = new HostLimiter(1, 0)
  await t.rejects(
    limiter.run('http://a.example/1.jpg', async () => {
      throw new Error('boom')
    }),
    /boom/
  )
  t.equal(await limiter.run('http://a.example/2.jpg', async () => 'next'), 'next')
})
