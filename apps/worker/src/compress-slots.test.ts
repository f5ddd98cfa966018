import t from 'tap'
import { compressSlots, slotWeight } from './compress-slots.ts'

t.test('an image weighs its whole megapixels, at least 1 and at most the budget', async (t) => {
  t.equal(slotWeight(0.3, 24), 1)
  t.equal(slotWeight(12.1, 24), 13)
  t.equal(slotWeight(100, 24), 24, 'a larger image runs alone')
})

/** Slot users that hold their slot until released, recording which run at once. */
function gated(slot: ReturnType<typeof compressSlots>) {
  const running = new Set<string>()
  const releases = new Map<string, () => void>()
  const run = (name: string, megapixels: number) =>
    slot(megapixels, async () => {
      running.add(name)
      await new Promise<void>((resolve) => releases.set(name, resolve))
      running.delete(name)
    })
  const release = async (name: string) => {
    releases.get(name)!()
    await new Promise((r) => setImmediate(r))
  }
  return { running, run, release }
}
const settle = () => new Promise((r) => setImmediate(r))

t.test('small images fill every slot; large ones share the megapixel budget', async (t) => {
  const { running, run, release } = gated(compressSlots({ images: 4, megapixels: 24 }))
  const small = ['a', 'b', 'c', 'd', 'e'].map((name) => run(name, 0.5))
  await settle()
  t.same([...running].sort(), ['a', 'b', 'c', 'd'], 'four small images at once, the fifth waits for a slot')
  for (const name of ['a', 'b', 'c', 'd', 'e']) await release(name)
  await Promise.all(small)

  const large = [run('x', 12), run('y', 11.5), run('z', 3)]
  await settle()
  t.same([...running].sort(), ['x', 'y'], 'two 12 MP photos fill the budget: the 3 MP one waits')
  await release('x')
  t.same([...running].sort(), ['y', 'z'], 'it starts once one of them is done')
  await release('y')
  await release('z')
  await Promise.all(large)

  const huge = [run('huge', 100), run('after', 1)]
  await settle()
  t.same([...running], ['huge'], 'an image over the budget runs alone, and is not refused')
  await release('huge')
  t.same([...running], ['after'])
  await release('after')
  await Promise.all(huge)
})
