import t from 'tap'
import { makingOrder } from './order.ts'

t.test("the largest output first, so a format's smaller sizes are carried from its largest", async (t) => {
  const web = [480, 480, 480, 960, 960, 960, 1600, 1600, 1600].map((width) => ({ width, height: (width * 3) / 4 }))
  t.same(makingOrder(web), [6, 7, 8, 3, 4, 5, 0, 1, 2], 'web: 1600, 960 then 480, each in avif, webp, jpeg order')
})

t.test('ties keep the request order; nothing is dropped', async (t) => {
  t.same(
    makingOrder([
      { width: 100, height: 100 },
      { width: 200, height: 50 },
      { width: 300, height: 300 }
    ]),
    [2, 0, 1]
  )
  t.same(makingOrder([]), [])
})
