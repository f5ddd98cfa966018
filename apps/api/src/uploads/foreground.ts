/**
 * The requests the API is answering other than bulk uploads: a status read, a page, a health check. An upload's
 * ingest is bulk work on the same thread and the same database, so between its slices it gives way while any of
 * these are in flight: a read is then not queued behind CSV parsing and batch inserts at each of its round trips.
 * It waits a bounded time each time, so a steady stream of reads slows an upload but never stops it.
 */
export class Foreground {
  private active = 0
  private readonly waiting = new Set<() => void>()

  /** One request begins; the function returned ends it (only its first call counts). */
  enter(): () => void {
    this.active++
    let left = false
    return () => {
      if (left) return
      left = true
      if (--this.active === 0) for (const wake of this.waiting) wake()
    }
  }

  /** Requests in flight now. */
  get inFlight(): number {
    return this.active
  }

  /**
   * Resolves once no foreground request is in flight, after at least one turn of the event loop (so requests
   * that arrived meanwhile are read first), or after `maxWaitMs` whatever is in flight.
   */
  giveWay(maxWaitMs: number): Promise<void> {
    if (this.active === 0) return new Promise((resolve) => setImmediate(resolve))
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer)
        this.waiting.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, maxWaitMs)
      this.waiting.add(wake)
    })
  }
}
