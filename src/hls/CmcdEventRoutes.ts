/**
 * CMCD v2 event mode (CTA-5004-B): players POST `application/cmcd` bodies — one CMCD payload per
 * line (play-state changes, errors, responses received, custom events) — to an event target the
 * operator configures in the player (hls.js `cmcd.eventTargets`, dash.js event reporting). Reports
 * are decoded and validated by the SVTA Common Media Library (the reference implementation; off
 * the per-segment path, so its cost does not matter here) and feed the same QoE metrics as CMCD
 * on requests. Target: `POST /cmcd/<room>/<stream>` (`?token=` when `hls.access` is `token`).
 */
import { decodeCmcd, validateCmcd } from '@svta/cml-cmcd';
import type { HttpRequest, HttpResponse, HttpServer } from '../http/HttpServer';
import { grantsRoom, type TokenService } from '../auth/tokens';
import { ErrorCode } from '../protocol/errors';
import type { CmcdData, CmcdIntake } from './CmcdIntake';

/** Largest event-mode body accepted (bytes). */
export const MAX_CMCD_EVENT_BODY_BYTES = 64 * 1024;
/** Most reports (lines) in one body. */
export const MAX_CMCD_EVENT_REPORTS = 200;

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** What the event routes need. */
export interface CmcdEventRoutesDeps {
  intake: CmcdIntake;
  tokens: TokenService;
  /** `hls.access`: `token` requires `?token=` with canSubscribe for the room. */
  access: 'public' | 'token';
  corsOrigin: string;
}

/** One line's verdict. */
type LineResult = { ok: true; data: CmcdData } | { ok: false; reason: 'syntax' | 'type' | 'version' };

/** Decodes and validates one report line with the reference library. */
export function decodeEventReport(line: string): LineResult {
  let data: Record<string, unknown>;
  try {
    data = decodeCmcd(line) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'syntax' };
  }
  const { valid, issues } = validateCmcd(data);
  if (!valid) return { ok: false, reason: issues.some((i) => i.key === 'v' && i.severity === 'error') ? 'version' : 'type' };
  return { ok: true, data: data as CmcdData };
}

/** Registers `POST /cmcd/:room/:stream` and its CORS preflight. */
export function registerCmcdEventRoutes(http: HttpServer, deps: CmcdEventRoutesDeps): void {
  const cors = { 'access-control-allow-origin': deps.corsOrigin };
  const answer = (status: number, code: string, message: string): HttpResponse => ({
    status,
    headers: { ...cors, 'content-type': 'application/json' },
    body: JSON.stringify({ code, message }),
  });
  http.route('OPTIONS', '/cmcd/*', () => ({
    status: 204,
    headers: { ...cors, 'access-control-allow-methods': 'POST, OPTIONS', 'access-control-allow-headers': 'Content-Type', 'access-control-max-age': '86400' },
  }));
  http.route(
    'POST',
    '/cmcd/:room/:stream',
    async (req: HttpRequest): Promise<HttpResponse> => {
      const { room, stream } = req.params as { room: string; stream: string };
      if (!NAME.test(room) || !NAME.test(stream)) return answer(400, ErrorCode.BAD_REQUEST, 'bad path');
      if (deps.access === 'token') {
        const grants = await deps.tokens.verify(req.query.get('token') ?? '').catch(() => undefined);
        if (!grants || !grantsRoom(grants, room) || !grants.canSubscribe)
          return answer(401, ErrorCode.UNAUTHENTICATED, 'a token with canSubscribe for this room is required (?token=)');
      }
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/cmcd') return answer(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/cmcd');
      const lines = req.body
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      if (lines.length > MAX_CMCD_EVENT_REPORTS) return answer(413, 'PAYLOAD_TOO_LARGE', `at most ${MAX_CMCD_EVENT_REPORTS} reports per request`);
      const target = { room, stream };
      const refused: string[] = [];
      const now = Date.now();
      lines.forEach((line, i) => {
        const r = decodeEventReport(line);
        if (r.ok) deps.intake.record(target, r.data, now);
        else {
          deps.intake.countMalformed(r.reason);
          refused.push(`line ${i + 1}: ${r.reason}`);
        }
      });
      // Valid reports are kept even when others in the same body are refused.
      if (refused.length > 0) return answer(400, ErrorCode.BAD_REQUEST, `malformed CMCD reports (${refused.slice(0, 10).join(', ')})`);
      return { status: 204, headers: cors };
    },
    { maxBodyBytes: MAX_CMCD_EVENT_BODY_BYTES },
  );
}
