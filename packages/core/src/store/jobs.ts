import { randomUUID } from 'node:crypto'
import type { WebhookEventType } from '../requests/contracts.ts'
import { tally } from '../requests/plan.ts'
import type {
  DeliveryAttempt,
  DeliveryData,
  DeliveryState,
  EventSource,
  ImageRecord,
  Tally,
  UnitData
} from '../requests/records.ts'
import type { WorkQueue } from './queue.ts'
import type { Arrival, JobDocument, JobPatch } from './queue-port.ts'

/**
 * Every kind of job by name and type: its key, what it holds, and how what its processor reports becomes a
 * write. The work queue stays generic; this is the one place that knows what a job means.
 *
 * Keys make every enqueue repeatable: `<request_id>:images:<n>`, `<request_id>:finish`, `<request_id>:webhook`
 * (`:webhook:<round>` after a retry) and `retention`.
 */
const unitKey = (requestId: string, n: number) => `${requestId}:images:${n}`
const finisherKey = (requestId: string) => `${requestId}:finish`
// A request has one delivery per round: its first run's keeps the key it always had.
const deliveryKey = (requestId: string, round = 0) => `${requestId}:webhook${round > 0 ? `:${round}` : ''}`
const RETENTION_KEY = 'retention'

/** The retention sweep's data: when it last ran and how many requests that run removed. */
export interface SweepData {
  last_run?: Date
  removed?: number
}

// What processors report, as patches the queue writes fenced by the holder's claim.

/** These records of a unit are final; the unit's counters are recomputed from the holder's view of every image. */
export function imagesRecorded(images: readonly ImageRecord[], slots: Iterable<number>): JobPatch {
  const patch: Record<string, unknown> = { tally: tally(images) }
  for (const slot of slots) patch[`images.${slot}`] = images[slot]
  return patch
}

/** The delivery after one more attempt, and the state that attempt left it in. */
export function deliveryAttempted(delivery: DeliveryData, attempt: DeliveryAttempt, state: DeliveryState): JobPatch {
  return {
    attempts: [...delivery.attempts, attempt],
    state,
    ...(state === 'delivered' ? { delivered_at: attempt.at } : {})
  }
}

/** The delivery given up without another attempt (its workers kept dying). */
export const deliveryGivenUp = (): JobPatch => ({ state: 'failed' })

/** A retention sweep ran at `at` and removed `removed` requests. */
export const sweepRan = (at: Date, removed: number): JobPatch => ({ last_run: at, removed })

/** A unit whose every image is recorded arrives at its request's finisher. */
export const unitArrival = (requestId: string, n: number): Arrival => ({ barrier: finisherKey(requestId), part: n })

/** The jobs of requests, and the deployment's retention sweep, by kind and type. */
export class Jobs {
  constructor(private readonly queue: WorkQueue) {}

  /**
   * A request's finisher, waiting for every unit, then its units, held: no worker claims any of them until
   * `releaseUnits`. Keyed: the sequence can be repeated.
   */
  async createHeld(requestId: string, units: UnitData[]): Promise<void> {
    await this.createFinisher(requestId, units.length)
    await this.holdUnits(requestId, units)
  }

  /** A request's finisher, waiting for its `units` units. Keyed: repeatable. */
  async createFinisher(requestId: string, units: number): Promise<void> {
    await this.queue.enqueue([
      { kind: 'finish', key: finisherKey(requestId), request_id: requestId, data: {}, waitFor: units }
    ])
  }

  /** Work units of a request, held: no worker claims them until `releaseUnits`. Keyed: repeatable. */
  async holdUnits(requestId: string, units: UnitData[]): Promise<void> {
    if (units.length === 0) return
    await this.queue.enqueue(
      units.map((data) => ({
        kind: 'images' as const,
        key: unitKey(requestId, data.n),
        request_id: requestId,
        data,
        held: true
      }))
    )
  }

  /** What every held unit of a request is to make (fields of the form may arrive after the file): one update. */
  async setHeldUnitFields(requestId: string, fields: Pick<UnitData, 'options' | 'outputs'>): Promise<void> {
    await this.queue.patchHeld(requestId, 'images', {
      options: fields.options,
      ...(fields.outputs && { outputs: fields.outputs })
    })
  }

  /** One update makes every held unit of a request claimable at once: no worker ever sees part of a request. */
  async releaseUnits(requestId: string): Promise<void> {
    await this.queue.releaseHeld(requestId)
  }

  /** Requests with units held since before `cutoff`: their creation stopped before it released them. */
  heldSince(cutoff: Date): Promise<string[]> {
    return this.queue.heldRequestsBefore(cutoff)
  }

  /** The counters of every unit of a request. */
  async unitTallies(requestId: string): Promise<Tally[]> {
    return (await this.queue.dataByRequest<UnitData, 'tally'>(requestId, 'images', ['tally'])).map((u) => u.tally)
  }

  /** The image records of units `ns` of a request, by unit number; a unit that does not exist is left out. */
  async unitImages(requestId: string, ns: Iterable<number>): Promise<Map<number, ImageRecord[]>> {
    const keys = [...ns].map((n) => unitKey(requestId, n))
    const units = await this.queue.dataByKeys<UnitData, 'n' | 'images'>(keys, ['n', 'images'])
    return new Map(units.map((u) => [u.n, u.images]))
  }

  /** The image records of every unit of a request, with each unit's number (what a retry plans from). */
  unitImagesOf(requestId: string): Promise<Array<Pick<UnitData, 'n' | 'images'>>> {
    return this.queue.dataByRequest<UnitData, 'n' | 'images'>(requestId, 'images', ['n', 'images'])
  }

  /** Every unit of a request, in order, as stored (operations and tests). */
  async units(requestId: string): Promise<JobDocument<UnitData>[]> {
    return (await this.queue.ofRequest<UnitData>(requestId, 'images')).sort((a, b) => a.data.n - b.data.n)
  }

  finisher(requestId: string): Promise<JobDocument<Record<string, never>> | null> {
    return this.queue.find(finisherKey(requestId))
  }

  /** The delivery of a request's round (0: its first run; n: its n-th retry). */
  delivery(requestId: string, round = 0): Promise<JobDocument<DeliveryData> | null> {
    return this.queue.find<DeliveryData>(deliveryKey(requestId, round))
  }

  /** The delivery of the latest round up to `round` that has one, in one read (a running retry's round has none yet). */
  latestDelivery(requestId: string, round = 0): Promise<JobDocument<DeliveryData> | null> {
    const keys = Array.from({ length: round + 1 }, (_, r) => deliveryKey(requestId, r))
    return this.queue.latest<DeliveryData>(keys)
  }

  /**
   * Keyed by the request and its round, so a finisher that repeats this after a crash queues nothing new (one
   * event id per round), and a retry's round gets an event of its own.
   */
  async queueDelivery(
    request: EventSource & { round?: number },
    url: string,
    type: WebhookEventType = 'request.completed'
  ): Promise<void> {
    const { round, ...source } = request
    const data: DeliveryData = { event_id: randomUUID(), type, request: source, url, state: 'pending', attempts: [] }
    const key = deliveryKey(request.request_id, round)
    await this.queue.enqueue([{ kind: 'webhook', key, request_id: request.request_id, data }])
  }

  /** Stops a request's work at once: its units are cancelled, and its finisher is due now to write what was done. */
  async cancelRequest(requestId: string): Promise<void> {
    await this.queue.cancelOpen(requestId, 'images')
    await this.queue.dueNow(finisherKey(requestId))
  }

  /**
   * The finisher waits again, for the `units` a retry's `round` re-queues. Once per round: false if it is waiting
   * already, or was reopened for this round before.
   */
  reopenFinisher(requestId: string, units: number, round: number): Promise<boolean> {
    return this.queue.reopen(finisherKey(requestId), { round }, { waitFor: units, unless: { round } })
  }

  /** Unit `n` of a request is pending again with these images, once per retry `round`. */
  requeueUnit(requestId: string, n: number, images: ImageRecord[], round: number): Promise<boolean> {
    return this.queue.reopen(unitKey(requestId, n), { images, tally: tally(images), round }, { unless: { round } })
  }

  /** The one retention sweep of the deployment; every worker schedules it, the first one's counts. */
  async scheduleRetention(): Promise<void> {
    await this.queue.enqueue<SweepData>([{ kind: 'retention', key: RETENTION_KEY, data: {} }])
  }

  retention(): Promise<JobDocument<SweepData> | null> {
    return this.queue.find<SweepData>(RETENTION_KEY)
  }

  /** Every job of a request: its units, finisher and delivery. */
  async removeRequest(requestId: string): Promise<void> {
    await this.queue.removeRequest(requestId)
  }
}
