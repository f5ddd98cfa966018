/**
 * Instances of the metric's WebAssembly kernels (../assembly/ssimulacra2.ts), each with its own memory, and
 * the pool that keeps released ones. A WebAssembly memory never shrinks, so one shared by every score would
 * keep the largest image ever scored for the life of the worker; instead each prepared reference takes an
 * instance sized for it and hands it back when released, because the first touch of fresh pages cost more
 * than the kernels' own work when preparing (~0.5 ms per MB: 12.6 ms to prepare a 512×512 reference).
 */

import { wasmBinary } from './wasm-binary.ts'

/** The kernels' exports (pointers are byte offsets into the instance's memory). */
export interface Kernels {
  init(radius: number, gauss: number, opsin: number, cbrtMagic: number, toLinear: number): void
  linearPlanes(src: number, n: number, r: number, g: number, b: number): void
  halvedLinearPlanes(src: number, w: number, h: number, r: number, g: number, b: number): void
  downscale(src: number, w: number, h: number, dst: number): void
  toXyb(r: number, g: number, b: number, n: number, x: number, y: number, bb: number, blue: number): void
  horizontal(
    a: number,
    b: number,
    w: number,
    h: number,
    cross: number,
    h0: number,
    h1: number,
    h2: number,
    scratch: number
  ): void
  verticalStore(w: number, h: number, h0: number, h1: number, mu: number, sq: number, scratch: number): void
  verticalSsim(
    w: number,
    h: number,
    h0: number,
    h1: number,
    h2: number,
    a: number,
    b: number,
    mu1: number,
    sq1: number,
    edge: number,
    sums: number,
    scratch: number
  ): void
}

let compiled: WebAssembly.Module | undefined
/** Compiled on first use, once per process (the API process never scores, so never loads it). */
const kernelsModule = () => (compiled ??= new WebAssembly.Module(wasmBinary()))

const PAGE = 65_536
/** wasm32: 4 GiB of addresses, the most V8 gives one memory. */
export const MAX_BYTES = 65_536 * PAGE

/** An instance of the kernels with its memory. */
export interface Instance {
  memory: WebAssembly.Memory
  kernels: Kernels
}

/**
 * Instances of released references, kept for the next ones: their pages are already mapped. Bounded so
 * that what it keeps is small beside a worker's images: memories above POOL_MEMORY_BYTES are dropped, and so
 * is anything beyond POOL_BYTES in all.
 */
class Pool {
  static readonly POOL_MEMORY_BYTES = 48 * 2 ** 20
  static readonly POOL_BYTES = 96 * 2 ** 20
  readonly #idle: Instance[] = []

  /**
   * The smallest idle instance holding `bytes`, else the largest idle one grown to them, else a new one; a new
   * one too when `bytes` is more than the pool keeps (grown from an idle one, it would leave the pool with it).
   */
  take(bytes: number): Instance {
    // Lower is better: one that holds `bytes`, the smaller the better; else the larger, the less to grow.
    const rank = (inst: Instance) => {
      const size = inst.memory.buffer.byteLength
      return size >= bytes ? size : 2 * MAX_BYTES - size
    }
    const chosen =
      bytes > Pool.POOL_MEMORY_BYTES
        ? undefined
        : this.#idle.reduce<Instance | undefined>(
            (best, inst) => (!best || rank(inst) < rank(best) ? inst : best),
            undefined
          )
    const instance = chosen ? this.#idle.splice(this.#idle.indexOf(chosen), 1)[0]! : Pool.#create()
    const missing = Math.ceil(bytes / PAGE) - instance.memory.buffer.byteLength / PAGE
    if (missing > 0) instance.memory.grow(missing)
    return instance
  }

  give(instance: Instance): void {
    const size = instance.memory.buffer.byteLength
    if (size > Pool.POOL_MEMORY_BYTES || this.idleBytes() + size > Pool.POOL_BYTES) return
    this.#idle.push(instance)
  }

  idleBytes(): number {
    return this.#idle.reduce((sum, inst) => sum + inst.memory.buffer.byteLength, 0)
  }

  static #create(): Instance {
    const memory = new WebAssembly.Memory({ initial: 1 })
    return {
      memory,
      kernels: new WebAssembly.Instance(kernelsModule(), { env: { memory } }).exports as unknown as Kernels
    }
  }
}

/** The process's pool (exported for its tests). */
export const pool = new Pool()
