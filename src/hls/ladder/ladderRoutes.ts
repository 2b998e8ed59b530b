/**
 * `GET /v1/rooms/{room}/streams/{stream}/ladder`: a stream's LL-HLS ladder as it is now — the
 * rungs (live, joining, retiring), the audience-shaped ladder's last decision and why, its recent
 * changes, the viewers it sees and the encoders running (docs/abr-ladder.md).
 */
import { z } from 'zod';
import type { ApiRouter } from '../../api/ApiRouter';
import { apiSchemas, roomName } from '../../api/schemas';
import { NotFoundError } from '../../core/errors';
import type { HlsService } from '../HlsService';
import type { LadderChange, RungView } from './AdaptiveLadder';

const rungSchema = z.object({
  name: z.string().describe('Rendition name (path segment of its media playlist)'),
  videoKbps: z.number().describe('Video bitrate (kbps; the estimate for a copied source)'),
  height: z.number().int().optional().describe('Encoded height (px); absent = the source height'),
  copySource: z.boolean().describe('Passes the publisher’s H264 through'),
  state: z
    .enum(['live', 'joining', 'retiring'])
    .describe('live: offered to players; joining: encoding, offered once it has a segment; retiring: no longer offered, encoding until players left it'),
});
const changeSchema = z.object({
  at: z.string().describe('When (ISO 8601)'),
  action: z.enum(['drop', 'restore', 'lower', 'add']),
  rung: z.string(),
  replaces: z.string().optional(),
  before: z.array(rungSchema),
  after: z.array(rungSchema),
  reason: z.string(),
});
const ladderSchema = z
  .object({
    room: z.string(),
    stream: z.string(),
    adaptive: z.boolean().describe('True when the ladder follows its audience (hls.ladderAdaptation.enabled)'),
    rungs: z.array(rungSchema).describe('Video rungs, highest bitrate first'),
    lastDecision: z
      .object({ at: z.string(), action: z.enum(['none', 'drop', 'restore', 'lower', 'add']), reason: z.string() })
      .optional()
      .describe('The last evaluation of the audience policy'),
    changes: z.array(changeSchema).describe('Recent changes, oldest first'),
    viewers: z.number().int().describe('Viewers with throughput reports (CMCD mtp) in the window'),
    sessionsByRendition: z.record(z.string(), z.number().int()).describe('Playback sessions in the window by the rendition they last fetched'),
    encoders: z.number().int().describe('ffmpeg processes encoding this ladder'),
  })
  .describe('A stream’s LL-HLS ladder');
apiSchemas.add(ladderSchema, { id: 'Ladder', description: 'A stream’s LL-HLS ladder: rungs, the audience policy’s last decision and recent changes.' });

const iso = (ms: number) => new Date(ms).toISOString();

/** A change as the API shows it (ISO time). */
export function changeView(c: LadderChange): z.infer<typeof changeSchema> {
  return { ...c, at: iso(c.at), before: c.before.map(stripRung), after: c.after.map(stripRung) };
}

function stripRung(r: RungView): RungView {
  return r.height === undefined ? { name: r.name, videoKbps: r.videoKbps, copySource: r.copySource, state: r.state } : r;
}

/** Registers the ladder route on the API. */
export function registerLadderRoutes(api: ApiRouter, service: HlsService): void {
  api.add({
    method: 'GET',
    path: '/v1/rooms/{room}/streams/{stream}/ladder',
    operationId: 'getLadder',
    tag: 'streams',
    auth: 'admin',
    summary: 'A stream’s LL-HLS ladder and the audience policy’s decisions',
    description:
      'The rungs being offered, joining and retiring; with hls.ladderAdaptation on, the last decision of the audience policy and why, recent changes (also sent as `ladder.changed` webhooks), the viewers it sees and the encoders running.',
    params: z.strictObject({ room: roomName, stream: z.string().min(1).max(128) }),
    responses: { 200: { description: 'The ladder', schema: ladderSchema }, 404: { description: 'The stream is not being packaged as LL-HLS on this node' } },
    handler: ({ params }) => {
      const stream = service.get(params.room, params.stream);
      if (!stream || stream.ended) throw new NotFoundError(`stream ${params.stream} is not packaged as LL-HLS in room ${params.room} on this node`);
      const view = stream.ladderView();
      if (!view) {
        const rungs = stream.listedRenditions
          .filter((r) => r.kind === 'video')
          .map((r) => stripRung({ name: r.spec.name, videoKbps: r.spec.videoKbps, height: r.spec.height, copySource: r.copied, state: 'live' }));
        return {
          status: 200,
          body: {
            room: params.room,
            stream: params.stream,
            adaptive: false,
            rungs,
            changes: [],
            viewers: 0,
            sessionsByRendition: {},
            encoders: stream.encoderPids.length,
          },
        };
      }
      return {
        status: 200,
        body: {
          room: params.room,
          stream: params.stream,
          adaptive: true,
          rungs: view.rungs.map(stripRung),
          lastDecision: view.lastDecision && { ...view.lastDecision, at: iso(view.lastDecision.at) },
          changes: view.changes.map(changeView),
          viewers: view.viewers,
          sessionsByRendition: view.sessionsByRendition,
          encoders: view.encoders,
        },
      };
    },
  });
}
