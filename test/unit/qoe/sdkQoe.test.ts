/**
 * The SDK's QoE collector and reporter (browser code with no DOM dependency, run in Node): what a
 * player tells a session becomes the right report entries, batches go out on schedule and soon
 * after a first frame or failure, and reports made while disconnected are merged and sent later.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QoeSession } from '../../../clients/sdk/src/qoe/QoeSession';
import { QoeReporter } from '../../../clients/sdk/src/qoe/QoeReporter';
import { requestSchemas, type QoeSessionReport } from '../../../src/protocol/signaling';

describe('QoeSession', () => {
  it('measures startup, watched and stalled time, bytes, latency and rendition', () => {
    const s = new QoeSession({ stream: 'alice', path: 'hls', startedAt: 1000 }, () => undefined);
    expect(s._drain(1500)).toEqual({ id: s.id, stream: 'alice', path: 'hls', watchMs: 0 });
    s.firstFrame(2200);
    s.rendition('720p');
    s.setBitrate(800_000, 2200);
    s.latency(2000);
    s.latency(3000);
    s.stallStart(4200);
    s.stallEnd(4700);
    s.setPaused(true, 5200);
    s.setPaused(false, 9200);
    const r = s._drain(10_200);
    expect(r).toMatchObject({ startupMs: 1200, watchMs: 4000, stallMs: 500, stalls: 1, latencyMs: 2500, rendition: '720p' });
    expect(r.bytes).toBeCloseTo(400_000, -3);
    expect(requestSchemas.reportQoe.safeParse({ sessions: [r] }).success).toBe(true);
    // Figures are deltas: the next drain starts from zero and sends startup no more.
    expect(s._drain(11_200)).toMatchObject({ watchMs: 1000 });
    expect(s._drain(11_200).startupMs).toBeUndefined();
  });

  it('detects stalls from frame gaps (the WebRTC freeze rule), also while frames are still missing', () => {
    const s = new QoeSession({ stream: 'alice', path: 'moq', startedAt: 0 }, () => undefined);
    for (let t = 100; t <= 1000; t += 33) s.frame({ bytes: 1000, latencyMs: 300 }, t);
    s.frame({}, 1700); // a 700 ms hole at ~30 fps
    const r = s._drain(1700);
    expect(r.stalls).toBe(1);
    expect(r.stallMs).toBeGreaterThan(600);
    expect(r.startupMs).toBe(100);
    // Frames stop: the drain counts the ongoing gap; the next frame ends it.
    const gap = s._drain(3000);
    expect(gap.stalls).toBe(1);
    expect(gap.stallMs).toBeGreaterThan(1200);
    s.frame({}, 3500);
    expect(s.state).toBe('playing');
  });

  it('ends or fails once, with a clean reason', () => {
    const changes: string[] = [];
    const s = new QoeSession({ stream: 'a', path: 'webrtc' }, () => changes.push(s.state));
    s.fail('LL-HLS networkError: manifestLoadError');
    s.end();
    expect(s._drain()).toMatchObject({ end: 'failed', reason: 'LL-HLS_networkError:_manifestLoadError' });
    expect(changes).toEqual(['failed']);
    expect(() => new QoeSession({ stream: '', path: 'webrtc' }, () => undefined)).toThrow(TypeError);
    expect(() => new QoeSession({ stream: 'a', path: 'rtmp' as 'hls' }, () => undefined)).toThrow(TypeError);
  });
});

describe('QoeReporter', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("sends batches every interval and soon after a first frame; adopts the node's interval", async () => {
    const sent: QoeSessionReport[][] = [];
    const r = new QoeReporter({ intervalMs: 2000 }, {});
    r._attach(async (p) => {
      sent.push(p.sessions);
      return { accepted: p.sessions.length, ignored: 0, intervalMs: 3000 };
    });
    const s = r.startSession({ stream: 'alice', path: 'hls' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toHaveLength(1);
    s.firstFrame();
    await vi.advanceTimersByTimeAsync(300);
    expect(sent).toHaveLength(2);
    expect(sent[1]![0]!.startupMs).toBeGreaterThanOrEqual(0);
    await vi.advanceTimersByTimeAsync(3000);
    expect(sent).toHaveLength(3);
    s.end();
    await vi.advanceTimersByTimeAsync(300);
    expect(sent.at(-1)![0]!.end).toBe('ended');
    expect(r.sessions).toEqual([]);
    r._close();
  });

  it('keeps reports while disconnected and sends them merged once attached again', async () => {
    const sent: QoeSessionReport[][] = [];
    const r = new QoeReporter({ intervalMs: 1000 }, {});
    const s = r.startSession({ stream: 'alice', path: 'webrtc' });
    s.firstFrame();
    await vi.advanceTimersByTimeAsync(1000);
    s.addStall(300, 1);
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toEqual([]);
    r._attach(async (p) => {
      sent.push(p.sessions);
      return { accepted: 1, ignored: 0, intervalMs: 1000 };
    });
    await vi.advanceTimersByTimeAsync(300);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toHaveLength(1);
    expect(sent[0]![0]).toMatchObject({ id: s.id, stalls: 1, stallMs: 300, startupMs: expect.any(Number) });
    expect(sent[0]![0]!.watchMs).toBeGreaterThanOrEqual(3000);
    r._close();
  });

  it('re-queues a batch lost with the connection, fails sessions when the client dies, and can be turned off', async () => {
    let fail = true;
    const sent: QoeSessionReport[][] = [];
    const r = new QoeReporter({ intervalMs: 1000 }, {});
    r._attach(async (p) => {
      if (fail) throw Object.assign(new Error('lost'), { code: 'CONNECTION_LOST' });
      sent.push(p.sessions);
      return { accepted: 1, ignored: 0, intervalMs: 1000 };
    });
    const s = r.startSession({ stream: 'alice', path: 'webrtc' });
    s.firstFrame();
    await vi.advanceTimersByTimeAsync(1000);
    fail = false;
    r._close('RECONNECT_FAILED');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toHaveLength(1);
    expect(sent[0]![0]).toMatchObject({ end: 'failed', reason: 'RECONNECT_FAILED', startupMs: expect.any(Number) });
    const off = new QoeReporter(false, {});
    expect(off.enabled).toBe(false);
    off.startSession({ stream: 'a', path: 'hls' });
    expect(off.sessions).toEqual([]);
  });
});
