/**
 * `/v1/rooms/{room}/streams/{stream}/restreams`: push a stream to RTMP(S) destinations (other
 * platforms), list the pushes with their state, stop them. Admin only: destination URLs carry
 * stream keys, and are only ever shown redacted.
 */
import { z } from 'zod';
import type { ApiRouter } from '../api/ApiRouter';
import { apiSchemas, roomName } from '../api/schemas';
import type { RestreamService } from './RestreamService';

const restreamSchema = z
  .object({
    id: z.string().describe('Restream id'),
    room: z.string(),
    stream: z.string().describe('Publisher identity of the stream'),
    destination: z.string().describe('The destination URL with its stream key masked (rtmp://host/app/***)'),
    state: z.enum(['connecting', 'live', 'reconnecting', 'failed', 'stopped']),
    video: z.enum(['copy', 'ladder']).optional().describe('copy: the publisher’s H264 as sent; ladder: the LL-HLS ladder’s top encoded rendition'),
    rendition: z.string().optional().describe('The LL-HLS rendition pushed'),
    createdAt: z.string(),
    liveSince: z.string().optional().describe('When the current connection started sending'),
    failures: z.number().int().describe('Connections that failed or dropped'),
    reconnects: z.number().int().describe('Connections that went live after the first'),
    lastError: z.string().optional().describe('Why the last connection failed (scrubbed of the URL)'),
    nextAttemptAt: z.string().optional().describe('When the next connection attempt is due (state reconnecting)'),
    bytesSent: z.number().int().describe('FLV bytes sent, every connection together'),
    stoppedAt: z.string().optional(),
    stopReason: z.string().optional().describe('api, stream-ended, gave-up, shutdown'),
  })
  .describe('A push of a stream to an RTMP(S) destination');
apiSchemas.add(restreamSchema, { id: 'Restream', description: 'A push of a stream to an RTMP(S) destination.' });

const restreamListSchema = z.object({ restreams: z.array(restreamSchema) });
apiSchemas.add(restreamListSchema, { id: 'RestreamList', description: 'The pushes of a stream.' });

const streamParams = z.strictObject({ room: roomName, stream: z.string().min(1).max(128) });
const oneParams = streamParams.extend({ id: z.string().min(1).max(64) });

/** Registers the restream routes on the API. */
export function registerRestreamRoutes(api: ApiRouter, service: RestreamService): void {
  const base = '/v1/rooms/{room}/streams/{stream}/restreams';
  api.add({
    method: 'POST',
    path: base,
    operationId: 'startRestream',
    tag: 'restreams',
    auth: 'admin',
    summary: 'Push a stream to an RTMP(S) destination',
    description:
      'Copies the publisher’s H264 when it can (else the LL-HLS ladder’s top rung) with the ladder’s AAC audio, reconnects with backoff when the destination drops, and stops when the stream ends. The URL is a secret: it is only ever shown redacted.',
    params: streamParams,
    body: z.strictObject({ url: z.string().min(1).max(2048).describe('rtmp://host[:port]/app/streamkey or rtmps://…') }),
    responses: {
      201: { description: 'Push started (state connecting)', schema: restreamSchema },
      400: { description: 'Not an rtmp:// or rtmps:// URL' },
      404: { description: 'No such stream' },
      409: { description: 'Restreaming disabled, or a limit reached (restream.maxPerStream, maxTotal)' },
      503: { description: 'The stream could not be packaged in time, or the node is full' },
    },
    handler: async ({ params, body }) => ({ status: 201, body: await service.start(params.room, params.stream, body.url) }),
  });
  api.add({
    method: 'GET',
    path: base,
    operationId: 'listRestreams',
    tag: 'restreams',
    auth: 'admin',
    summary: 'List the pushes of a stream',
    params: streamParams,
    responses: { 200: { description: 'Pushes (stopped ones stay listed for a while)', schema: restreamListSchema } },
    handler: ({ params }) => ({ status: 200, body: { restreams: service.list(params.room, params.stream) } }),
  });
  api.add({
    method: 'GET',
    path: `${base}/{id}`,
    operationId: 'getRestream',
    tag: 'restreams',
    auth: 'admin',
    summary: 'One push and its state',
    params: oneParams,
    responses: { 200: { description: 'The push', schema: restreamSchema }, 404: { description: 'No such push' } },
    handler: ({ params }) => ({ status: 200, body: service.get(params.room, params.stream, params.id) }),
  });
  api.add({
    method: 'DELETE',
    path: `${base}/{id}`,
    operationId: 'stopRestream',
    tag: 'restreams',
    auth: 'admin',
    summary: 'Stop a push',
    params: oneParams,
    responses: { 200: { description: 'The push, stopped', schema: restreamSchema }, 404: { description: 'No such push' } },
    handler: ({ params }) => ({ status: 200, body: service.stop(params.room, params.stream, params.id) }),
  });
}
