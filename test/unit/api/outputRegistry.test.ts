import { describe, expect, it } from 'vitest';
import { OutputRegistry } from '../../../src/streams/OutputRegistry';

describe('OutputRegistry', () => {
  it('lists registered outputs by stream until their handle is closed', () => {
    const reg = new OutputRegistry();
    const events: string[] = [];
    reg.on('added', (o) => events.push(`+${o.kind}`));
    reg.on('removed', (o) => events.push(`-${o.kind}`));
    let viewers = 2;
    const hls = reg.register({ kind: 'hls', room: 'r', identity: 'a', url: '/hls/r/a/index.m3u8', stats: () => ({ viewers }) });
    reg.register({ kind: 'moq', room: 'r', identity: 'b' });
    viewers = 5;
    expect(reg.list({ room: 'r', identity: 'a' })).toEqual([expect.objectContaining({ kind: 'hls', url: '/hls/r/a/index.m3u8', stats: { viewers: 5 } })]);
    expect(reg.list({ room: 'r' })).toHaveLength(2);
    hls.close();
    hls.close();
    expect(reg.list({ identity: 'a' })).toEqual([]);
    expect(events).toEqual(['+hls', '+moq', '-hls']);
  });

  it('survives a throwing stats callback and rejects incomplete registrations', () => {
    const reg = new OutputRegistry();
    reg.register({
      kind: 'x',
      room: 'r',
      identity: 'a',
      stats: () => {
        throw new Error('boom');
      },
    });
    expect(reg.list()[0]!.stats).toEqual({ error: 'stats unavailable' });
    expect(() => reg.register({ kind: '', room: 'r', identity: 'a' })).toThrowError(TypeError);
  });
});
