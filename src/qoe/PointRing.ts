/** A fixed-size ring of plotted points in column arrays (one column per value, NaN for none). */
import { round } from './round';

/** The ring. */
export class PointRing {
  readonly #columns: Float64Array[];
  readonly #size: number;
  #count = 0;
  #head = 0;

  /** `columns` values per point (the first is the unix second); `size` points kept. */
  constructor(columns: number, size: number) {
    this.#size = size;
    this.#columns = Array.from({ length: columns }, () => new Float64Array(size).fill(Number.NaN));
  }

  /** Appends a point (null or undefined values are stored as "no data"). */
  push(values: ReadonlyArray<number | null | undefined>): void {
    const p = this.#head;
    this.#columns.forEach((col, i) => (col[p] = values[i] ?? Number.NaN));
    this.#head = (p + 1) % this.#size;
    this.#count = Math.min(this.#count + 1, this.#size);
  }

  /** Points whose first value (unix second) is above `sinceSec`, oldest first; null for no data. */
  since(sinceSec = 0): Array<Array<number | null>> {
    const out: Array<Array<number | null>> = [];
    const start = (this.#head - this.#count + this.#size) % this.#size;
    for (let k = 0; k < this.#count; k++) {
      const i = (start + k) % this.#size;
      if (this.#columns[0]![i]! <= sinceSec) continue;
      out.push(this.#columns.map((col) => (Number.isNaN(col[i]!) ? null : round(col[i]!))));
    }
    return out;
  }
}
