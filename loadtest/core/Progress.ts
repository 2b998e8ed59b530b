/**
 * A progress bar on stderr: redrawn in place on a terminal, one plain line every few seconds
 * otherwise (CI logs), silent with `--quiet`. Scenarios give it a status function.
 */

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Label in front of the bar. */
  label: string;
  /** Planned run time (s); the bar fills against it. */
  totalS: number;
  /** One-line status shown after the bar (`12 345 req  p99 4.1 ms  0 errors`). */
  status: () => string;
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

/** A running progress display. */
export class Progress {
  readonly #o: Required<ProgressOptions>;
  readonly #tty: boolean;
  readonly #start = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #lastLine = 0;
  #phase = '';

  constructor(options: ProgressOptions) {
    this.#o = { quiet: false, stream: process.stderr, ...options };
    this.#tty = Boolean(this.#o.stream.isTTY);
  }

  /** Starts redrawing. */
  start(): void {
    if (this.#o.quiet) return;
    this.#timer = setInterval(() => this.#draw(), this.#tty ? 250 : 1000);
    this.#timer.unref();
  }

  /** Names the current phase (shown in front of the status). */
  phase(text: string): void {
    this.#phase = text;
    if (!this.#o.quiet && !this.#tty) this.#o.stream.write(`[${this.#o.label}] ${text}\n`);
  }

  /** Stops and leaves a final line. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#o.quiet) return;
    this.#draw(true);
    if (this.#tty) this.#o.stream.write('\n');
  }

  #draw(final = false): void {
    const elapsed = (Date.now() - this.#start) / 1000;
    const frac = Math.min(1, elapsed / Math.max(0.001, this.#o.totalS));
    let status: string;
    try {
      status = this.#o.status();
    } catch {
      status = '';
    }
    const phase = this.#phase ? `${this.#phase}  ` : '';
    if (this.#tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
      const line = `[${this.#o.label}] [${bar}] ${Math.round(frac * 100)}% ${elapsed.toFixed(0)}/${this.#o.totalS}s  ${phase}${status}`;
      const cols = this.#o.stream.columns ?? 120;
      this.#o.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length + 8))}`);
      return;
    }
    if (final || Date.now() - this.#lastLine >= 5000) {
      this.#lastLine = Date.now();
      this.#o.stream.write(`[${this.#o.label}] ${Math.round(frac * 100)}% ${elapsed.toFixed(0)}/${this.#o.totalS}s  ${phase}${status}\n`);
    }
  }
}
