/** A seeded PRNG (mulberry32) with helpers, so a failing fuzz run reproduces from its seed. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  /** A string of up to `maxLength` characters: ASCII, controls, quotes, non-BMP and lone surrogates. */
  string(maxLength: number): string {
    const n = this.int(0, maxLength);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = this.next();
      if (r < 0.6) s += String.fromCharCode(this.int(32, 126));
      else if (r < 0.7) s += String.fromCharCode(this.int(0, 31));
      else if (r < 0.8) s += this.pick(['"', '\\', '{', '}', '[', ']', ':', ',', '\u2028', '\ufeff']);
      else if (r < 0.9) s += String.fromCodePoint(this.int(0x80, 0x10ffff));
      else s += String.fromCharCode(this.int(0xd800, 0xdfff));
    }
    return s;
  }
}
