/**
 * The minimum rate of an upload's body: over every `windowMs` after the first (its grace), the body must bring
 * at least `minBytesPerS` on average. Fed the bytes read so far at each tick; a drip-fed body fails the first
 * check after its grace, a body that stalls for a whole window fails then, a steady slow link never does.
 */
export class BodyRate {
  /** Bytes read by each past tick, oldest first: only as far back as one window before the latest. */
  private readonly samples: Array<{ at: number; bytes: number }>

  constructor(
    private readonly minBytesPerS: number,
    private readonly windowMs: number,
    start: { at: number; bytes: number }
  ) {
    this.samples = [start]
  }

  /** False once the last window brought less than the minimum (then the body should be cut off). */
  check(at: number, bytes: number): boolean {
    this.samples.push({ at, bytes })
    const since = at - this.windowMs
    if (this.samples[0]!.at > since) return true // still in the grace window
    // The latest sample at least one window old is where the window starts; older ones are never needed again.
    while (this.samples.length > 1 && this.samples[1]!.at <= since) this.samples.shift()
    const base = this.samples[0]!
    return bytes - base.bytes >= (this.minBytesPerS * (at - base.at)) / 1000
  }
}
