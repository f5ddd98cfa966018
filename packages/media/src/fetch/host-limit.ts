import pLimit, { type LimitFunction } from 'p-limit'

interface HostState {
  limit: LimitFunction
  nextStartMs: number
}

/**
 * Politeness per image host, so one CSV cannot turn a worker into a traffic amplifier against someone's server:
 * at most `concurrency` downloads at once and `perSecond` starts per second to any one host (0: no rate cap).
 * Per worker process; hosts with nothing in flight are forgotten, so the map stays as small as the work.
 */
export class HostLimiter {
  private readonly hosts = new Map<string, HostState>()

  constructor(
    private readonly concurrency: number,
    private readonly perSecond: number
  ) {}

  run<T>(url: string, work: () => Promise<T>): Promise<T> {
    const host = hostOf(url)
    let state = this.hosts.get(host)
    if (!state) {
      state = { limit: pLimit(this.concurrency), nextStartMs: 0 }
      this.hosts.set(host, state)
    }
    const entry = state
    return entry
      .limit(async () => {
        if (this.perSecond > 0) {
          const now = Date.now()
          const startAt = Math.max(now, entry.nextStartMs)
          entry.nextStartMs = startAt + 1000 / this.perSecond
          if (startAt > now) await new Promise((r) => setTimeout(r, startAt - now))
        }
        return work()
      })
      .finally(() => {
        if (entry.limit.activeCount === 0 && entry.limit.pendingCount === 0 && entry.nextStartMs <= Date.now())
          this.hosts.delete(host)
      })
  }

  get trackedHosts(): number {
    return this.hosts.size
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return url
  }
}
