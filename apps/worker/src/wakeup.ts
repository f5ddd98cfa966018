/**
 * A sleep that can be cut short by `wake()`. Lets a poll loop back off while idle
 * yet react at once to work it knows about (a request it just completed, a retry it scheduled).
 */
export class Wakeup {
  private pending: (() => void) | null = null
  private woken = false

  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false
      return Promise.resolve()
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.pending = null
        this.woken = false
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.pending = done
    })
  }

  wake(): void {
    if (this.pending) this.pending()
    else this.woken = true
  }
}
