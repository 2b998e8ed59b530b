/**
 * Every Redis key and channel of the room event store, in one place. Keys of one room share the
 * room's hash tag (`{r:<room>}`, as the cascade's keys do) so the append script, which touches
 * several of them, also runs on Redis Cluster. Names are URI-encoded so separators never collide.
 *
 * | key / channel                       | type    | written by            | lifetime                         |
 * |-------------------------------------|---------|-----------------------|----------------------------------|
 * | `<p>{r:<room>}:ev:seq`              | string  | APPEND (counter)      | kept (numbering never restarts)  |
 * | `<p>{r:<room>}:ev:log`              | stream  | APPEND (XADD `0-seq`) | MAXLEN + age trim, PX maxAge     |
 * | `<p>{r:<room>}:ev:idem:<key>`       | string  | APPEND (`seq\|json`)   | PX idempotencyTtlMs              |
 * | `<p>{r:<room>}:ev` (channel)        | pub/sub | APPEND (`seq\|json`)   | —                                |
 */

const enc = (s: string) => encodeURIComponent(s);

/** Key and channel names under one prefix (default `subsec:`). */
export class EventRedisKeys {
  constructor(readonly prefix: string) {}

  /** The room's sequence counter. */
  seq(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:seq`;
  }

  /** The room's event stream; entry ids are `0-<seq>`, fields `t` (serverTime) and `d` (event JSON without seq). */
  log(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:log`;
  }

  /** The idempotency record of a key (already scoped by the sender's identity). */
  idempotency(room: string, key: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:idem:${enc(key)}`;
  }

  /** Pub/sub channel announcing the room's appends. */
  channel(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev`;
  }

  /** The room of a channel name, or undefined when it is not one of ours. */
  roomOfChannel(channel: string): string | undefined {
    const m = /^\{r:([^}]*)\}:ev$/.exec(channel.startsWith(this.prefix) ? channel.slice(this.prefix.length) : '');
    return m ? decodeURIComponent(m[1]!) : undefined;
  }
}
