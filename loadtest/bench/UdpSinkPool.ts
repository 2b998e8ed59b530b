/**
 * Cheap RTP receivers for the fan-out bench: a few UDP sockets in worker threads that count
 * packets per SSRC and track RTP sequence numbers, without decrypting anything (SRTP leaves
 * the RTP header in the clear). Counters live in a SharedArrayBuffer the main thread reads at
 * window boundaries; kernel drops on the sink sockets come from /proc/net/udp, so a sink that
 * cannot keep up is told apart from loss inside the SFU.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Per-consumer fields in the shared buffer (Float64 each). */
const FIELDS = 3; // received packets, extended highest sequence number (-1 = none yet), bytes

/**
 * The thread's code, plain JavaScript (run with `eval`, so no TypeScript loader is involved).
 * It binds its sockets, reports their ports, learns SSRC → slot mappings by message and updates
 * the shared counters for every RTP packet (RTCP, payload types 192–223 in byte 1, is skipped).
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const counters = new Float64Array(workerData.buffer);
const slots = new Map();
const ports = [];
let bound = 0;
for (let i = 0; i < workerData.sockets; i++) {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: workerData.recvBufferBytes });
  s.on('message', (msg) => {
    if (msg.length < 12) return;
    const b1 = msg[1];
    if (b1 >= 192 && b1 <= 223) return;
    const slot = slots.get(msg.readUInt32BE(8));
    if (slot === undefined) return;
    const base = slot * ${FIELDS};
    counters[base] += 1;
    counters[base + 2] += msg.length;
    const seq = (msg[2] << 8) | msg[3];
    const max = counters[base + 1];
    if (max < 0) { counters[base + 1] = seq; return; }
    const delta = (seq - (max % 65536) + 65536) % 65536;
    if (delta > 0 && delta < 32768) counters[base + 1] = max + delta;
  });
  s.bind(0, '127.0.0.1', () => {
    ports.push(s.address().port);
    if (++bound === workerData.sockets) parentPort.postMessage({ type: 'ready', ports });
  });
}
parentPort.on('message', (m) => {
  if (m.type === 'map') for (const [ssrc, slot] of m.entries) slots.set(ssrc, slot);
  else if (m.type === 'unmap') for (const ssrc of m.ssrcs) slots.delete(ssrc);
  else if (m.type === 'sync') parentPort.postMessage({ type: 'synced', id: m.id });
});
`;

/** A snapshot of one consumer's counters. */
export interface SinkCounters {
  received: number;
  /** Extended highest sequence number seen, -1 before the first packet. */
  extMax: number;
  bytes: number;
}

/** Options of {@link UdpSinkPool.start}. */
export interface UdpSinkPoolOptions {
  /** Most consumers the pool can track. */
  capacity: number;
  /** Sink threads (default 1). */
  threads?: number;
  /** Sockets per thread (default 4). */
  socketsPerThread?: number;
  /** SO_RCVBUF asked for each socket (bytes; the kernel caps it at net.core.rmem_max). */
  recvBufferBytes?: number;
}

interface SinkThread {
  worker: Worker;
  ports: number[];
}

/** A pool of counting sinks. */
export class UdpSinkPool {
  readonly #counters: Float64Array;
  readonly #threads: SinkThread[];
  readonly #ssrcThread = new Map<number, SinkThread>();
  #nextPort = 0;
  #nextSlot = 0;
  readonly #freeSlots: number[] = [];
  readonly #slotOf = new Map<number, number>();
  #syncId = 0;

  private constructor(counters: Float64Array, threads: SinkThread[]) {
    this.#counters = counters;
    this.#threads = threads;
  }

  /** Starts the threads and binds their sockets. */
  static async start(options: UdpSinkPoolOptions): Promise<UdpSinkPool> {
    const buffer = new SharedArrayBuffer(options.capacity * FIELDS * 8);
    const counters = new Float64Array(buffer);
    for (let i = 0; i < options.capacity; i++) counters[i * FIELDS + 1] = -1;
    const threads = await Promise.all(
      Array.from({ length: options.threads ?? 1 }, async () => {
        const worker = new Worker(THREAD_SOURCE, {
          eval: true,
          workerData: { buffer, sockets: options.socketsPerThread ?? 4, recvBufferBytes: options.recvBufferBytes ?? 4 * 1024 * 1024 },
        });
        const ports = await new Promise<number[]>((resolve, reject) => {
          worker.once('error', reject);
          worker.once('message', (m: { type: string; ports: number[] }) => resolve(m.ports));
        });
        return { worker, ports };
      }),
    );
    return new UdpSinkPool(counters, threads);
  }

  /** Every sink port. */
  get ports(): number[] {
    return this.#threads.flatMap((t) => t.ports);
  }

  /**
   * Reserves a slot for a consumer's SSRC and returns the port its RTP must go to (ports are
   * used round-robin). Call {@link map} after the consumer exists.
   */
  nextPort(): { port: number; thread: number } {
    const all = this.#threads.flatMap((t, ti) => t.ports.map((port) => ({ port, thread: ti })));
    return all[this.#nextPort++ % all.length]!;
  }

  /** Starts counting packets of `ssrc` (sent to a port of thread `thread`). */
  map(ssrc: number, thread: number): void {
    const slot = this.#freeSlots.pop() ?? this.#nextSlot++;
    if (slot * FIELDS >= this.#counters.length) throw new RangeError('sink pool is full');
    const base = slot * FIELDS;
    this.#counters[base] = 0;
    this.#counters[base + 1] = -1;
    this.#counters[base + 2] = 0;
    this.#slotOf.set(ssrc, slot);
    const t = this.#threads[thread]!;
    this.#ssrcThread.set(ssrc, t);
    t.worker.postMessage({ type: 'map', entries: [[ssrc, slot]] });
  }

  /** Stops counting `ssrc` and frees its slot. */
  unmap(ssrc: number): void {
    const slot = this.#slotOf.get(ssrc);
    const t = this.#ssrcThread.get(ssrc);
    if (slot === undefined || !t) return;
    t.worker.postMessage({ type: 'unmap', ssrcs: [ssrc] });
    this.#slotOf.delete(ssrc);
    this.#ssrcThread.delete(ssrc);
    this.#freeSlots.push(slot);
  }

  /** Waits until every thread has applied the mappings sent so far. */
  async sync(): Promise<void> {
    await Promise.all(
      this.#threads.map(
        (t) =>
          new Promise<void>((resolve) => {
            const id = ++this.#syncId;
            const on = (m: { type: string; id?: number }) => {
              if (m.type === 'synced' && m.id === id) {
                t.worker.off('message', on);
                resolve();
              }
            };
            t.worker.on('message', on);
            t.worker.postMessage({ type: 'sync', id });
          }),
      ),
    );
  }

  /** Current counters of `ssrc` (undefined when not mapped). */
  read(ssrc: number): SinkCounters | undefined {
    const slot = this.#slotOf.get(ssrc);
    if (slot === undefined) return undefined;
    const base = slot * FIELDS;
    return { received: this.#counters[base]!, extMax: this.#counters[base + 1]!, bytes: this.#counters[base + 2]! };
  }

  /** Kernel receive-buffer drops on the sink sockets so far (from /proc/net/udp). */
  kernelDrops(): number {
    return udpDrops(new Set(this.ports));
  }

  /** Stops the threads (their sockets close with them). */
  async close(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.worker.terminate()));
  }
}

/** Sum of the `drops` column of /proc/net/udp for IPv4 sockets bound to `ports` (0 elsewhere). */
export function udpDrops(ports: ReadonlySet<number>): number {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return 0;
  }
  let drops = 0;
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const port = parseInt(cols[1]!.split(':')[1]!, 16);
    if (ports.has(port)) drops += Number(cols[cols.length - 1]) || 0;
  }
  return drops;
}
