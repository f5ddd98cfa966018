/** A counting semaphore whose waiters give up after a while: a turn, or false when none came in time. */
export class Gate {
  private active = 0
  private readonly waiting: Array<() => void> = []
  constructor(private readonly size: number) {}

  acquire(waitMs: number): Promise<boolean> {
    if (this.active < this.size) return Promise.resolve(++this.active > 0)
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.active++
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(wake), 1)
        resolve(false)
      }, waitMs)
      this.waiting.push(wake)
    })
  }

  release(): void {
    this.active--
    this.waiting.shift()?.()
  }
}

/**
 * A gate of `size` turns per tenant, made on first use and forgotten once nobody holds or waits for a turn: one
 * tenant's uploads queue behind each other, never behind another tenant's.
 */
export class TenantGates {
  private readonly gates = new Map<string, { gate: Gate; users: number }>()
  constructor(private readonly size: number) {}

  async acquire(tenant: string, waitMs: number): Promise<boolean> {
    const entry = this.gates.get(tenant) ?? { gate: new Gate(this.size), users: 0 }
    entry.users++
    this.gates.set(tenant, entry)
    const got = await entry.gate.acquire(waitMs)
    if (!got) this.leave(tenant)
    return got
  }

  release(tenant: string): void {
    this.gates.get(tenant)?.gate.release()
    this.leave(tenant)
  }

  /** Tenants holding or waiting for a turn. */
  get tenants(): number {
    return this.gates.size
  }

  private leave(tenant: string): void {
    const entry = this.gates.get(tenant)
    if (entry && --entry.users === 0) this.gates.delete(tenant)
  }
}
