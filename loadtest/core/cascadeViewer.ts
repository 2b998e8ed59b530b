/**
 * A server-side viewer for cascade tests: joins a node's room as a participant (so it creates
 * demand there, like an SDK viewer), consumes every producer it is told about, as the SDK does on
 * `newProducer`, through PlainTransports into local UDP sockets, and counts the RTP that arrives
 * with the time of the first packet per producer.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import type { types } from 'mediasoup';
import type { Participant, Room } from '../../src/sfu/Room';

interface Sink {
  producerId: string;
  kind?: 'audio' | 'video';
  transport: types.PlainTransport;
  socket: dgram.Socket;
  packets: number;
  firstAt?: number;
  lastAt?: number;
}

/** A counting viewer. */
export class TestViewer implements Participant {
  readonly id = crypto.randomUUID();
  readonly kind = 'internal' as const;
  readonly role = 'viewer' as const;
  readonly notifications: Array<{ name: string; data: any; at: number }> = [];
  readonly #sinks = new Map<string, Sink>();
  /** Sinks whose producer closed (kept for their counts). */
  readonly #done: Sink[] = [];
  readonly #pending = new Set<Promise<void>>();
  #room: Room | undefined;
  #closed = false;

  constructor(readonly identity: string) {}

  /** Joins `room` and consumes its current producers. */
  static async join(room: Room, identity = 'viewer-' + crypto.randomUUID().slice(0, 8)): Promise<TestViewer> {
    const v = new TestViewer(identity);
    await room.join(v);
    v.#room = room;
    for (const p of room.producerInfos(v.id)) v.#consume(p.producerId);
    return v;
  }

  notify(name: string, data: any): void {
    this.notifications.push({ name, data, at: Date.now() });
    if (name === 'newProducer') this.#consume(data.producerId);
  }

  onRoomClosed(): void {
    this.#closed = true;
  }

  /** RTP packets received in total, over current and closed producers. */
  packets(): number {
    let n = 0;
    for (const s of this.#all()) n += s.packets;
    return n;
  }

  /** Earliest first-packet time at or after `since` over producers (of `kind`, if given), if any arrived. */
  firstPacketSince(since: number, kind?: 'audio' | 'video'): number | undefined {
    let best: number | undefined;
    for (const s of this.#all()) {
      if (kind && s.kind !== kind) continue;
      if (s.firstAt !== undefined && s.firstAt >= since && (best === undefined || s.firstAt < best)) best = s.firstAt;
    }
    return best;
  }

  /** Latest packet time over all producers. */
  lastPacketAt(): number | undefined {
    let best: number | undefined;
    for (const s of this.#all()) if (s.lastAt !== undefined && (best === undefined || s.lastAt > best)) best = s.lastAt;
    return best;
  }

  /** Ids of producers consumed. */
  get producerIds(): string[] {
    return [...this.#sinks.keys()];
  }

  /** First notification named `name` received at or after `since`. */
  notification(name: string, since = 0): { name: string; data: any; at: number } | undefined {
    return this.notifications.find((n) => n.name === name && n.at >= since);
  }

  /** Leaves the room and closes its sinks. */
  async leave(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    this.#room?.leave(this.id);
    for (const s of this.#sinks.values()) {
      s.transport.close();
      s.socket.close();
    }
    this.#sinks.clear();
  }

  #all(): Sink[] {
    return [...this.#sinks.values(), ...this.#done];
  }

  /** Ids of producers currently consumed whose RTP keeps arriving (a packet within `withinMs`). */
  flowing(withinMs = 500): string[] {
    const now = Date.now();
    return [...this.#sinks.values()].filter((s) => s.lastAt !== undefined && now - s.lastAt <= withinMs).map((s) => s.producerId);
  }

  #consume(producerId: string): void {
    if (this.#closed || this.#sinks.has(producerId) || !this.#room) return;
    const room = this.#room;
    const job = (async () => {
      const slot = room.slotOf(this.id);
      await room.ensureOnRouter(producerId, slot);
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
      const transport = await slot.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: false });
      await transport.connect({ ip: '127.0.0.1', port: socket.address().port });
      const sink: Sink = { producerId, transport, socket, packets: 0 };
      socket.on('message', (msg) => {
        if (msg.length >= 12 && msg[0]! >> 6 === 2 && (msg[1]! < 200 || msg[1]! > 204)) {
          const now = Date.now();
          sink.packets++;
          sink.firstAt ??= now;
          sink.lastAt = now;
        }
      });
      this.#sinks.set(producerId, sink);
      const consumer = await transport.consume({ producerId, rtpCapabilities: slot.router.rtpCapabilities, paused: false }).catch((err: unknown) => {
        // The producer closed meanwhile: forget the sink so a producer with this id can be consumed again.
        if (this.#sinks.get(producerId) === sink) this.#sinks.delete(producerId);
        transport.close();
        socket.close();
        throw err;
      });
      sink.kind = consumer.kind;
      consumer.on('producerclose', () => {
        transport.close();
        socket.close();
        if (this.#sinks.get(producerId) === sink) this.#sinks.delete(producerId);
        this.#done.push(sink);
      });
    })().catch(() => undefined);
    this.#pending.add(job);
    void job.finally(() => this.#pending.delete(job));
  }
}
