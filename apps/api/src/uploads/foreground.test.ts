import t from 'tap'
import { Foreground } from './foreground.ts'

t.test('with nothing in flight, giving way takes one turn of the event loop', async (t) => {
  const foreground = new Foreground()
  let turned = false
  setImmediate(() => {
    turned = true
  })
  await foreground.giveWay(1000)
  t.ok(turned, 'a callback queued before it ran first')
})

t.test('giving way waits until the last request in flight ends', async (t) => {
  const foreground = new Foreground()
  const first = foreground.enter()
  const second = foreground.enter()
  t.equal(foreground.inFlight, 2)
  let resumed = false
  const waiting = foreground.giveWay(10_000).then(() => {
    resumed = true
  })
  first()
  first() // a second end of the same request does not count
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(resumed, false, 'one request still in flight')
  second()
  await waiting
  t.equal(foreground.inFlight, 0)
})

t.test('giving way ends after its bound, whatever is in flight', async (t) => {
  const foreground = new Foreground()
  const end = foreground.enter()
  const started = performance.now()
  await foreground.giveWay(30)
  t.ok(performance.now() - started >= 25, 'waited about its bound')
  t.equal(foreground.inFlight, 1, 'the request is still in flight')
  end()
  t.equal(foreground.inFlight, 0)
})
