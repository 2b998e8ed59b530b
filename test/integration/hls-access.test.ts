/** `hls.access: token`: every HLS request needs a subscribe token for the room, and playlists pass it on. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubsecNode } from '../../src/SubsecNode';
import { startNode } from '../helpers/startNode';
import { waitFor } from '../../loadtest/core/waitFor';

let node: SubsecNode;

beforeAll(async () => {
  node = await startNode({ synthetic: { enabled: true, room: 'hlsauth' }, hls: { access: 'token' } });
  await waitFor(
    () =>
      node.rooms
        .get('hlsauth')
        ?.producersOf('synthetic')
        .some((p) => p.kind === 'video'),
    { timeoutMs: 20_000, what: 'synthetic video' },
  );
}, 60_000);

afterAll(async () => {
  await node?.close();
});

describe('LL-HLS with token access', () => {
  it('refuses requests without a valid token for the room and carries the token on every listed URI', async () => {
    const base = `${node.url}/hls/hlsauth/synthetic`;
    expect((await fetch(`${base}/index.m3u8`)).status).toBe(401);
    const other = node.tokens.issue({ room: 'elsewhere', identity: 'v', canSubscribe: true });
    expect((await fetch(`${base}/index.m3u8?token=${other}`)).status).toBe(401);
    const noSub = node.tokens.issue({ room: 'hlsauth', identity: 'v', canSubscribe: false });
    expect((await fetch(`${base}/index.m3u8?token=${noSub}`)).status).toBe(401);
    expect(node.hls!.get('hlsauth', 'synthetic')).toBeUndefined(); // nothing transcoded for refused requests

    const token = node.tokens.issue({ room: 'hlsauth', identity: 'viewer', canSubscribe: true });
    const mv = await fetch(`${base}/index.m3u8?token=${token}`);
    expect(mv.status).toBe(200);
    const mvText = await mv.text();
    const uris = mvText
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .concat([...mvText.matchAll(/URI="([^"]+)"/g)].map((m) => m[1]!));
    expect(uris.length).toBe(4);
    expect(uris.every((u) => u.endsWith(`?token=${token}`))).toBe(true);
    const media = await fetch(`${base}/low/index.m3u8?token=${token}`);
    const text = await media.text();
    const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(text)![1]!;
    expect(part.endsWith(`?token=${token}`)).toBe(true);
    expect((await fetch(`${base}/low/${part}`)).status).toBe(200);
    expect((await fetch(`${base}/low/${part.split('?')[0]}`)).status).toBe(401);
  }, 40_000);
});
