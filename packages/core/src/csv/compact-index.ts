import { createHash } from 'node:crypto'

/**
 * A map from 64-bit keys to non-negative integers, in typed arrays (open addressing, linear probing): 12 bytes a
 * slot at most half full, where a Map of strings costs 80 bytes and more an entry. An upload of a million rows
 * keeps two of these (distinct URLs, serials) in about 50 MB instead of several hundred.
 */
export class CompactIndex {
  private hi: Uint32Array
  private lo: Uint32Array
  /** The value plus one: 0 marks an empty slot. */
  private values: Uint32Array
  private mask: number
  size = 0

  constructor(capacity = 1024) {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, capacity * 2)))
    this.hi = new Uint32Array(slots)
    this.lo = new Uint32Array(slots)
    this.values = new Uint32Array(slots)
    this.mask = slots - 1
  }

  /** The value stored for the key, or -1. */
  get(key: Key64): number {
    for (let i = this.slot(key); ; i = (i + 1) & this.mask) {
      const v = this.values[i]!
      if (v === 0) return -1
      if (this.hi[i] === key.hi && this.lo[i] === key.lo) return v - 1
    }
  }

  /** Stores `value` for the key unless it has one; returns the value it had, or -1 when this call stored it. */
  setIfAbsent(key: Key64, value: number): number {
    if (!Number.isInteger(value) || value < 0 || value >= 0xffff_ffff) throw new RangeError(`bad value ${value}`)
    for (let i = this.slot(key); ; i = (i + 1) & this.mask) {
      const v = this.values[i]!
      if (v === 0) {
        this.hi[i] = key.hi
        this.lo[i] = key.lo
        this.values[i] = value + 1
        if (++this.size * 2 > this.mask + 1) this.grow()
        return -1
      }
      if (this.hi[i] === key.hi && this.lo[i] === key.lo) return v - 1
    }
  }

  /** Bytes held by the tables. */
  get bytes(): number {
    return this.hi.byteLength + this.lo.byteLength + this.values.byteLength
  }

  private slot(key: Key64): number {
    // Serials are small and dense, so the words are mixed before they pick a slot.
    return (Math.imul(key.lo ^ Math.imul(key.hi, 0x85eb_ca6b), 0x9e37_79b1) >>> 0) & this.mask
  }

  private grow(): void {
    const { hi, lo, values } = this
    const slots = (this.mask + 1) * 2
    this.hi = new Uint32Array(slots)
    this.lo = new Uint32Array(slots)
    this.values = new Uint32Array(slots)
    this.mask = slots - 1
    for (let j = 0; j < values.length; j++) {
      if (values[j] === 0) continue
      let i = this.slot({ hi: hi[j]!, lo: lo[j]! })
      while (this.values[i] !== 0) i = (i + 1) & this.mask
      this.hi[i] = hi[j]!
      this.lo[i] = lo[j]!
      this.values[i] = values[j]!
    }
  }
}

export interface Key64 {
  hi: number
  lo: number
}

/**
 * A text's key: the first 64 bits of its SHA-256. Two distinct URLs of one upload share a key with odds of about
 * n²/2⁶⁵ (3·10⁻⁸ for a million); such a pair would be fetched once, as if it were one URL.
 */
export function textKey(text: string): Key64 {
  const digest = createHash('sha256').update(text).digest() // not crypto.hash: Node 20.10 has none
  return { hi: digest.readUInt32LE(0), lo: digest.readUInt32LE(4) }
}

/** A safe integer's key, exactly. */
export function integerKey(n: number): Key64 {
  return { hi: Math.floor(n / 2 ** 32) >>> 0, lo: n >>> 0 }
}
