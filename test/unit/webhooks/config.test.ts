import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/loadConfig';

describe('webhooks, turn and webRtcServer config', () => {
  it('defaults to no endpoints, TURN off, WebRtcServer off', () => {
    const c = parseConfig({});
    expect(c.webhooks.endpoints).toEqual([]);
    expect(c.turn.enabled).toBe(false);
    expect(c.sfu.webRtcServer).toEqual({ enabled: false, port: 7882 });
  });

  it('names each bad key', () => {
    expect(() => parseConfig({ webhooks: { endpoints: [{ url: 'http://x/h' }] } })).toThrowError(/webhooks\.endpoints\.0\.secret/);
    expect(() => parseConfig({ webhooks: { endpoints: [{ url: 'ftp://x/h', secret: 'x'.repeat(16) }] } })).toThrowError(/webhooks\.endpoints\.0\.url/);
    expect(() => parseConfig({ webhooks: { secret: 'x'.repeat(16), endpoints: [{ url: 'http://x/h', events: ['Room'] }] } })).toThrowError(/events\.0/);
    expect(() => parseConfig({ turn: { enabled: true } })).toThrowError(/turn\.urls[\s\S]*turn\.secret/);
    expect(() => parseConfig({ turn: { urls: ['http://x'] } })).toThrowError(/turn\.urls\.0/);
    expect(() => parseConfig({ sfu: { webRtcServer: { prt: 1 } } })).toThrowError(/sfu\.webRtcServer\.prt/);
  });

  it('accepts a shared secret for endpoints without their own', () => {
    const c = parseConfig({
      webhooks: { secret: 's'.repeat(16), endpoints: [{ url: 'https://hooks.example.com/subsec', events: ['room.*', 'track.published'] }] },
    });
    expect(c.webhooks.endpoints[0]!.events).toEqual(['room.*', 'track.published']);
  });
});
