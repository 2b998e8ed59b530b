/**
 * Every Redis key and pub/sub channel of the cascade, the bans and the room events, in one place.
 * Keys of one room share a hash tag (`{r:<room>}`) so the Lua scripts that touch several of them
 * (the cascade's claims, the room events' append) also run on Redis Cluster.
 * Room names and identities are URI-encoded so no separator inside them can collide.
 *
 * | key / channel                              | type    | written by                 | lifetime                  |
 * |--------------------------------------------|---------|----------------------------|---------------------------|
 * | `<p>node:<id>`                             | string  | the node, every heartbeat  | PX nodeTtlMs              |
 * | `<p>nodes`                                 | set     | the node (SADD on beat)    | pruned by any node        |
 * | `<p>{r:<room>}:stream:<identity>`          | string  | the origin (lease)         | PX leaseMs, renewed       |
 * | `<p>{r:<room>}:epoch:<identity>`           | string  | claims (INCR)              | PX 1 day, refreshed       |
 * | `<p>{r:<room>}:streams`                    | set     | claims (SADD)              | pruned on listing         |
 * | `<p>{r:<room>}:relays:<identity>`          | hash    | relaying nodes             | PX relayTtlMs, refreshed  |
 * | `<p>relay-dir:<path>`                      | hash    | MoQ relays (RelayDirectory)| PX relayTtlMs, refreshed  |
 * | `<p>{r:<room>}:ban:<identity>`             | string  | bans (src/moderation)      | PX until the ban ends     |
 * | `<p>bans`                                  | zset    | bans: `room identity` → end| pruned by score; PX max   |
 * | `<p>events` (channel)                      | pub/sub | claims/releases/nodes      | —                         |
 * | `<p>bans` (channel)                        | pub/sub | bans set / lifted          | —                         |
 * | `<p>rpc:<nodeId>` (channel)                | pub/sub | RPC requests and replies   | —                         |
 * | `<p>{r:<room>}:ev:seq`                     | string  | room events: APPEND counter| kept (never restarts)     |
 * | `<p>{r:<room>}:ev:log`                     | stream  | APPEND (XADD `0-seq`)      | MAXLEN + age, PX maxAge   |
 * | `<p>{r:<room>}:ev:idem:<key>`              | string  | APPEND (`seq\|json`)       | PX idempotencyTtlMs       |
 * | `<p>{r:<room>}:ev` (channel)               | pub/sub | APPEND (`seq\|json`)       | —                         |
 */

const enc = (s: string) => encodeURIComponent(s);

/** Key and channel names under one prefix (default `subsec:`). */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** A node's registration (JSON), expiring when heartbeats stop. */
  node(nodeId: string): string {
    return `${this.prefix}node:${enc(nodeId)}`;
  }

  /** Set of node ids that registered at least once (pruned when their key is gone). */
  get nodes(): string {
    return `${this.prefix}nodes`;
  }

  /** The origin lease of a stream (JSON `{nodeId, epoch, …}`). */
  stream(room: string, identity: string): string {
    return `${this.prefix}{r:${enc(room)}}:stream:${enc(identity)}`;
  }

  /** Fencing counter of a stream: incremented by every claim. */
  epoch(room: string, identity: string): string {
    return `${this.prefix}{r:${enc(room)}}:epoch:${enc(identity)}`;
  }

  /** Index of the identities that have (or recently had) a lease in a room. */
  roomStreams(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:streams`;
  }

  /** Nodes that relay a stream: field nodeId → JSON `{epoch, parent, depth, region}`. */
  relays(room: string, identity: string): string {
    return `${this.prefix}{r:${enc(room)}}:relays:${enc(identity)}`;
  }

  /** MoQ relay directory: field relay URL → registering node id. */
  relayDirectory(path: string): string {
    return `${this.prefix}relay-dir:${enc(path)}`;
  }

  /** A ban of an identity from a room (JSON), expiring when the ban ends. */
  ban(room: string, identity: string): string {
    return `${this.prefix}{r:${enc(room)}}:ban:${enc(identity)}`;
  }

  /** Index of the bans: member `<room> <identity>` (URI-encoded), score = end (ms since the epoch). */
  get bans(): string {
    return `${this.prefix}bans`;
  }

  /** Channel announcing bans set and lifted (`{op, ban | room, identity, from}`). */
  get bansChannel(): string {
    return `${this.prefix}bans`;
  }

  /** The index member of a ban. */
  banMember(room: string, identity: string): string {
    return `${enc(room)} ${enc(identity)}`;
  }

  /** Room and identity of an index member. */
  parseBanMember(member: string): { room: string; identity: string } | undefined {
    const [room, identity, extra] = member.split(' ');
    if (room === undefined || identity === undefined || extra !== undefined) return undefined;
    try {
      return { room: decodeURIComponent(room), identity: decodeURIComponent(identity) };
    } catch {
      return undefined;
    }
  }

  /** Cluster-wide events (stream up/down, node up/down). */
  get events(): string {
    return `${this.prefix}events`;
  }

  /** A node's RPC inbox (requests to it and replies to its calls). */
  rpc(nodeId: string): string {
    return `${this.prefix}rpc:${enc(nodeId)}`;
  }

  /** A room's event sequence counter. */
  eventSeq(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:seq`;
  }

  /** A room's event stream; entry ids are `0-<seq>`, fields `t` (serverTime) and `d` (event JSON without seq). */
  eventLog(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:log`;
  }

  /** The idempotency record of a room event key (already scoped by the sender's identity). */
  eventIdempotency(room: string, key: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev:idem:${enc(key)}`;
  }

  /** Pub/sub channel announcing a room's event appends. */
  eventChannel(room: string): string {
    return `${this.prefix}{r:${enc(room)}}:ev`;
  }

  /** The room of an {@link eventChannel} name, or undefined when it is not one. */
  roomOfEventChannel(channel: string): string | undefined {
    const m = /^\{r:([^}]*)\}:ev$/.exec(channel.startsWith(this.prefix) ? channel.slice(this.prefix.length) : '');
    return m ? decodeURIComponent(m[1]!) : undefined;
  }

  /** Decodes the node id of a {@link node} key. */
  nodeIdOf(key: string): string {
    return decodeURIComponent(key.slice(`${this.prefix}node:`.length));
  }
}
