/**
 * The link emulator process (native/linkemu.c) and its control channel: one command per line on
 * its stdin, one reply line on its stdout, answered in order. The process dies with this one
 * (pdeathsig) and on EOF of its stdin; its TUN devices disappear with it.
 */
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { spawnOwned } from '../../src/core/spawnOwned';
import { linkEmulatorBinary } from './linkEmulatorBinary';
import { pipeSettings, type LinkParams } from './linkParams';

/** Counters of one pipe (one direction of one link). */
export interface PipeStats {
  pktsIn: number;
  bytesIn: number;
  pktsOut: number;
  bytesOut: number;
  dropLoss: number;
  dropQueue: number;
  dropUdp: number;
  dropDown: number;
  maxQueueBytes: number;
}

/** What `stats` answers. */
export interface LinkEmulatorStats {
  /** CPU time the emulator used so far (user + system, s). */
  cpuSeconds: number;
  /** Packets delivered to their destination host. */
  written: number;
  /** Packets with no known destination in the lab (dropped). */
  unroutable: number;
  writeErrors: number;
  /** Packets waiting in pipes right now. */
  inFlight: number;
  pipes: Record<string, PipeStats>;
}

/** A running link emulator. */
export class LinkEmulator {
  readonly #child: ChildProcess;
  readonly #waiting: Array<{ resolve: (line: string) => void; reject: (err: Error) => void }> = [];
  #stderr = '';
  #exited = false;
  readonly exited: Promise<void>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => this.#waiting.shift()?.resolve(line));
    child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-4000);
    });
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.#exited = true;
        const err = new Error(`link emulator exited (${code ?? signal}) ${this.#stderr}`);
        for (const w of this.#waiting.splice(0)) w.reject(err);
        resolve();
      }),
    );
  }

  /** Starts the emulator (building it first if needed) and waits for its greeting. */
  static async start(seed = Date.now() % 1_000_000_007): Promise<LinkEmulator> {
    const emulator = new LinkEmulator(spawnOwned(linkEmulatorBinary(), [String(seed)], { stdio: ['pipe', 'pipe', 'pipe'] }));
    const greeting = await emulator.#nextLine();
    if (!greeting.startsWith('ok linkemu')) throw new Error(`link emulator did not start: ${greeting}`);
    emulator.realtime = greeting.includes('rt=fifo');
    return emulator;
  }

  /** True when the emulator runs with real-time scheduling (it does as root), so host load does not delay its packets. */
  realtime = false;

  /** The emulator's process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  #nextLine(): Promise<string> {
    if (this.#exited) return Promise.reject(new Error(`link emulator has exited ${this.#stderr}`));
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  /** Sends one command and resolves with the text after "ok" (rejects with the emulator's error). */
  async command(line: string): Promise<string> {
    if (/[\r\n]/.test(line)) throw new Error('a link emulator command is one line');
    const reply = this.#nextLine();
    this.#child.stdin!.write(`${line}\n`);
    const answer = await reply;
    if (answer === 'ok' || answer.startsWith('ok ')) return answer.slice(3);
    throw new Error(`link emulator: ${line.split(' ')[0]}: ${answer.replace(/^err /, '')}`);
  }

  /** Creates a TUN device (kernel name pattern allowed, e.g. `lab%d`); resolves with its host index and name. */
  async createTun(pattern: string): Promise<{ index: number; ifname: string }> {
    const [index, ifname] = (await this.command(`tun ${pattern}`)).split(' ');
    return { index: Number(index), ifname: ifname! };
  }

  /** Tells the emulator that the host behind TUN `index` owns `address`. */
  async setAddress(index: number, address: string): Promise<void> {
    await this.command(`addr ${index} ${address}`);
  }

  /** Sets every parameter of pipe `id`. */
  async setPipe(id: number, params: LinkParams): Promise<void> {
    await this.command(`pipe ${id} ${pipeSettings(params)}`);
  }

  /** Packets from host `src` to host `dst` cross these pipes in order (empty: dropped). */
  async setRoute(src: number, dst: number, pipeIds: number[]): Promise<void> {
    await this.command(`route ${src} ${dst} ${pipeIds.length ? pipeIds.join(',') : '-'}`);
  }

  /** Counters and CPU time. */
  async stats(): Promise<LinkEmulatorStats> {
    return JSON.parse(await this.command('stats')) as LinkEmulatorStats;
  }

  /** Ends the process (closing its stdin; SIGKILL if it lingers). */
  async close(): Promise<void> {
    if (this.#exited) return;
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
