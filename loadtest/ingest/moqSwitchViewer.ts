/**
 * A MoQ viewer of a stream's video for the primary/backup measurement: @moq/net subscribed to the
 * SFU bridge's `video` track on the node's relay, noting when each frame arrived, its group, and
 * whether the group opened with an H264 IDR. Groups are read side by side, as a live player does.
 */
import type { SubsecNode } from '../../src/SubsecNode';
import { decodeLegacyFrame } from '../../src/protocol/hangFormat';
import { connectMoq, Moq, nalTypes } from '../core/moqClient';

/** One frame as the MoQ viewer received it. */
export interface MoqFrameSeen {
  /** Arrival (ms, performance.now()). */
  at: number;
  group: number;
  /** Its index in the group (0 = the group's first frame). */
  index: number;
  /** The frame holds an IDR slice. */
  idr: boolean;
}

/** What the MoQ viewer saw from `since` on (performance.now() ms). */
export interface MoqViewSince {
  frames: number;
  /** Longest wait between two frames (ms), from `since`. */
  maxGapMs: number;
  /** Groups whose first frame arrived after `since`. */
  groups: number;
  /** Of those, the ones whose first frame was not an IDR (a subscriber could not start there). */
  groupsWithoutKeyFrame: number;
}

/** Watches the MoQ `video` track of `room/stream` on the node's relay until closed. */
export async function watchMoqVideo(node: SubsecNode, room: string, stream: string): Promise<{ since(t: number): MoqViewSince; close(): void }> {
  if (!node.moqRelay || !node.moqBridge) throw new Error('the node has no MoQ relay');
  const token = node.tokens.issue({ room, identity: `moq-viewer-${stream}`, canSubscribe: true });
  const conn = await connectMoq(node.moqRelay.addresses, token);
  const seen: MoqFrameSeen[] = [];
  const sub = conn
    .consume(Moq.Path.from(node.moqBridge.pathOf(room, stream)))
    .track('video')
    .subscribe({ priority: 60 });
  void (async () => {
    for (;;) {
      const g = await sub.recvGroup().catch(() => undefined);
      if (!g) return;
      void (async () => {
        for (let index = 0; ; index++) {
          const f = await g.readFrame().catch(() => undefined);
          if (!f) return;
          seen.push({ at: performance.now(), group: g.sequence, index, idr: nalTypes(decodeLegacyFrame(f.payload).payload).includes(5) });
        }
      })();
    }
  })();
  return {
    since(t) {
      const after = seen.filter((f) => f.at >= t);
      let maxGapMs = 0;
      let last = t;
      for (const f of after) {
        maxGapMs = Math.max(maxGapMs, f.at - last);
        last = f.at;
      }
      const firsts = after.filter((f) => f.index === 0);
      return { frames: after.length, maxGapMs, groups: firsts.length, groupsWithoutKeyFrame: firsts.filter((f) => !f.idr).length };
    },
    close() {
      sub.close();
      conn.close();
    },
  };
}
