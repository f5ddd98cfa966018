import t from 'tap'
import { Gate, TenantGates } from './slots.ts'

t.test('a gate hands out N turns; a waiter gets a freed turn or gives up after its wait', async (t) => {
  const gate = new Gate(2)
  t.equal(await gate.acquire(0), true)
  t.equal(await gate.acquire(0), true)
  const started = Date.now()
  t.equal(await gate.acquire(50), false, 'full: gave up')
  t.ok(Date.now() - started >= 45)
  const waiting = gate.acquire(1000)
  gate.release()
  t.equal(await waiting, true, 'woken by a release')
  const late = gate.acquire(30)
  t.equal(await late, false)
  gate.release()
  gate.release()
  t.equal(await gate.acquire(0), true, 'a waiter that gave up does not keep a turn')
  t.equal(await gate.acquire(0), true)
})

t.test('tenant gates: N turns per tenant, others unaffected, forgotten once nobody holds or waits', async (t) => {
  const gates = new TenantGates(1)
  t.equal(await gates.acquire('a', 0), true)
  t.equal(await gates.acquire('a', 30), false, "a's second upload waits for a's own turn, then gives up")
  t.equal(await gates.acquire('b', 0), true, 'b does not wait behind a')
  t.equal(gates.tenants, 2)
  const next = gates.acquire('a', 1000)
  gates.release('a')
  t.equal(await next, true, "a's waiter gets a's freed turn")
  gates.release('a')
  gates.release('b')
  t.equal(gates.tenants, 0, 'no tenant is remembered after its last upload')
})
