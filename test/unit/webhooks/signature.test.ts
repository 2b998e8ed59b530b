import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeSignature, signatureHeader, verifyWebhookSignature } from '../../../src/webhooks/signature';
import { matchesEventFilter, WEBHOOK_EVENT_TYPES } from '../../../src/webhooks/events';

const SECRET = 'unit-test-secret-0123456789';

describe('webhook signatures', () => {
  it('is hex HMAC-SHA256 over "<timestamp>.<body>" with the timestamp in the header', () => {
    const now = Date.UTC(2026, 0, 1) + 123;
    const header = signatureHeader(SECRET, '{"a":1}', now);
    const t = Math.floor(now / 1000);
    expect(header).toBe(`t=${t},v1=${crypto.createHmac('sha256', SECRET).update(`${t}.{"a":1}`).digest('hex')}`);
    expect(computeSignature(SECRET, t, '{"a":1}')).toBe(header.split('v1=')[1]);
  });

  it('verifies a good signature and names each problem otherwise', () => {
    const now = Date.now();
    const header = signatureHeader(SECRET, 'body', now);
    expect(verifyWebhookSignature(SECRET, header, 'body', { nowMs: now })).toBeNull();
    expect(verifyWebhookSignature(SECRET, undefined, 'body')).toBe('missing');
    expect(verifyWebhookSignature(SECRET, 'garbage', 'body')).toBe('malformed');
    expect(verifyWebhookSignature(SECRET, 't=abc,v1=00', 'body')).toBe('malformed');
    expect(verifyWebhookSignature(SECRET, header, 'Body', { nowMs: now })).toBe('mismatch');
    expect(verifyWebhookSignature('other-secret-0123456789', header, 'body', { nowMs: now })).toBe('mismatch');
    expect(verifyWebhookSignature(SECRET, header, 'body', { nowMs: now + 301_000 })).toBe('expired');
    expect(verifyWebhookSignature(SECRET, header, 'body', { nowMs: now + 301_000, toleranceSeconds: 600 })).toBeNull();
  });

  it('accepts any of several v1 signatures (secret rotation)', () => {
    const now = Date.now();
    const t = Math.floor(now / 1000);
    const header = `t=${t},v1=${computeSignature('old-secret-0123456789', t, 'b')},v1=${computeSignature(SECRET, t, 'b')}`;
    expect(verifyWebhookSignature(SECRET, header, 'b', { nowMs: now })).toBeNull();
  });
});

describe('webhook event filters', () => {
  it('match exact types, `family.*` and `*`; no filter means everything', () => {
    expect(matchesEventFilter('room.started', undefined)).toBe(true);
    expect(matchesEventFilter('room.started', ['room.started'])).toBe(true);
    expect(matchesEventFilter('room.finished', ['room.*'])).toBe(true);
    expect(matchesEventFilter('roommate.x', ['room.*'])).toBe(false);
    expect(matchesEventFilter('track.muted', ['room.*', 'participant.joined'])).toBe(false);
    expect(matchesEventFilter('node.left', ['*'])).toBe(true);
  });

  it('catalogue lists each event type once', () => {
    expect(new Set(WEBHOOK_EVENT_TYPES).size).toBe(WEBHOOK_EVENT_TYPES.length);
    expect(WEBHOOK_EVENT_TYPES).toContain('ingest.started');
    expect(WEBHOOK_EVENT_TYPES).toContain('recording.finished');
  });
});
