/**
 * Webhook signatures: `Subsec-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 * The timestamp is inside the signed text, so a captured request cannot be replayed later than
 * the receiver's tolerance. Receivers in Node can import {@link verifyWebhookSignature}.
 */
import crypto from 'node:crypto';

/** Header carrying the timestamp and signature. */
export const SIGNATURE_HEADER = 'subsec-signature';
/** Header carrying the event id (the same on every retry). */
export const EVENT_ID_HEADER = 'subsec-event-id';
/** Header carrying the event type. */
export const EVENT_TYPE_HEADER = 'subsec-event-type';
/** Header carrying the attempt number (1 on the first try). */
export const ATTEMPT_HEADER = 'subsec-delivery-attempt';

/** The hex HMAC-SHA256 of `<timestamp>.<body>`. */
export function computeSignature(secret: string, timestamp: number, body: string): string {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** The `Subsec-Signature` header value for a body signed now (or at `nowMs`). */
export function signatureHeader(secret: string, body: string, nowMs = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${computeSignature(secret, t, body)}`;
}

/** Why a signature was rejected. */
export type SignatureProblem = 'missing' | 'malformed' | 'expired' | 'mismatch';

/**
 * Checks a `Subsec-Signature` header against the raw body. Several `v1=` values are accepted
 * (secret rotation). Returns null when valid, else the problem.
 */
export function verifyWebhookSignature(
  secret: string,
  header: string | undefined,
  body: string,
  { toleranceSeconds = 300, nowMs = Date.now() }: { toleranceSeconds?: number; nowMs?: number } = {},
): SignatureProblem | null {
  if (!header) return 'missing';
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === undefined || sigs.length === 0) return 'malformed';
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return 'expired';
  const expected = Buffer.from(computeSignature(secret, t, body), 'hex');
  const ok = sigs.some((s) => crypto.timingSafeEqual(Buffer.from(s, 'hex'), expected));
  return ok ? null : 'mismatch';
}
