/** `/v1/ingest/rtsp`: add, list, show and remove RTSP camera pulls (admin). */
import { z } from 'zod';
import type { ApiRouter } from '../../api/ApiRouter';
import { rtspSourceSchema } from '../../config/schema';
import type { RtspIngest } from './RtspIngest';

const pullSchema = z.object({
  id: z.string(),
  url: z.string().describe('The camera URL (credentials are never shown)'),
  room: z.string(),
  stream: z.string(),
  transport: z.enum(['tcp', 'udp']),
  role: z.enum(['primary', 'backup']).nullable().describe('Its role when the stream has primary and backup inputs'),
  hasCredentials: z.boolean(),
  state: z
    .enum(['connecting', 'online', 'offline', 'stopped'])
    .describe('connecting (first attempt), online (media flowing), offline (failed; retrying with backoff)'),
  failures: z.number().int().describe('Failed attempts since it was last online'),
  lastError: z.string().nullable(),
  lastErrorLabel: z.string().nullable().describe('Metric label of the last failure (source-auth, source-unreachable, no-media, ...)'),
  onlineSince: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
  media: z.array(z.string()).describe('What the camera sends, e.g. video:h264, audio:pcm_alaw (while online)'),
});

/** Registers the RTSP pull routes. */
export function registerRtspRoutes(api: ApiRouter, ingest: RtspIngest): void {
  const idParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/) });
  api.add({
    method: 'POST',
    path: '/v1/ingest/rtsp',
    operationId: 'addRtspPull',
    tag: 'ingest',
    auth: 'admin',
    summary: 'Pull an RTSP camera into a room',
    description:
      'Starts pulling at once (ffmpeg as the RTSP client: TCP-interleaved or UDP, Basic or Digest auth). A failing camera is retried with a capped backoff; watch `state` or the `ingest.online`/`ingest.offline` webhooks. 409 when the id or the room/stream is taken or `rtsp.maxPulls` is reached.',
    body: rtspSourceSchema,
    responses: { 201: { description: 'The pull', schema: pullSchema }, 409: { description: 'Id or stream taken, or pull limit reached' } },
    handler: ({ body }) => ({ status: 201, body: ingest.add(body) }),
  });
  api.add({
    method: 'GET',
    path: '/v1/ingest/rtsp',
    operationId: 'listRtspPulls',
    tag: 'ingest',
    auth: 'admin',
    summary: 'List RTSP pulls and their state',
    responses: { 200: { description: 'Every pull', schema: z.object({ pulls: z.array(pullSchema) }) } },
    handler: () => ({ status: 200, body: { pulls: ingest.list() } }),
  });
  api.add({
    method: 'GET',
    path: '/v1/ingest/rtsp/{id}',
    operationId: 'getRtspPull',
    tag: 'ingest',
    auth: 'admin',
    summary: 'One RTSP pull and its state',
    params: idParams,
    responses: { 200: { description: 'The pull', schema: pullSchema }, 404: { description: 'No such pull' } },
    handler: ({ params }) => ({ status: 200, body: ingest.get(params.id) }),
  });
  api.add({
    method: 'DELETE',
    path: '/v1/ingest/rtsp/{id}',
    operationId: 'removeRtspPull',
    tag: 'ingest',
    auth: 'admin',
    summary: 'Stop and remove an RTSP pull',
    description: 'The feed leaves its room (viewers get producerClosed/peerLeft).',
    params: idParams,
    responses: { 204: { description: 'Removed' }, 404: { description: 'No such pull' } },
    handler: async ({ params }) => {
      await ingest.remove(params.id);
      return { status: 204 };
    },
  });
}
