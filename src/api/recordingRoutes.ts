/**
 * `/v1/recordings`: start, list and stop recordings of streams. The recording itself belongs to
 * the LL-HLS feature, which sets `node.recorder`; until it does, these routes answer
 * 501 NOT_IMPLEMENTED so clients can tell "not available on this build" from a bad request.
 */
import { z } from 'zod';
import type { RecordingController, RecordingInfo } from '../streams/OutputRegistry';
import type { ApiRouter, ApiResult } from './ApiRouter';
import type { ApiDeps } from './ApiDeps';
import { recordingListSchema, recordingRequestSchema, recordingSchema } from './schemas';

const NOT_IMPLEMENTED = {
  code: 'NOT_IMPLEMENTED',
  message: 'recording is not available on this node yet: it comes with the LL-HLS recorder (no recorder is registered)',
};

function view(r: RecordingInfo): z.infer<typeof recordingSchema> {
  return {
    id: r.id,
    room: r.room,
    identity: r.identity,
    state: r.state,
    startedAt: new Date(r.startedAt).toISOString(),
    ...(r.endedAt !== undefined ? { endedAt: new Date(r.endedAt).toISOString() } : {}),
    ...(r.location ? { location: r.location } : {}),
  };
}

/** Runs `fn` with the recorder, or answers 501 when there is none. */
async function withRecorder(deps: ApiDeps, fn: (r: RecordingController) => Promise<ApiResult>): Promise<ApiResult> {
  const recorder = deps.recorder();
  if (!recorder) return { status: 501, body: NOT_IMPLEMENTED };
  return fn(recorder);
}

/** Registers the recording routes. */
export function registerRecordingRoutes(api: ApiRouter, deps: ApiDeps): void {
  const notImplemented = { description: 'No recorder on this node (code NOT_IMPLEMENTED)' };
  api.add({
    method: 'POST',
    path: '/v1/recordings',
    operationId: 'startRecording',
    tag: 'recordings',
    auth: 'admin',
    summary: 'Start recording a stream',
    body: recordingRequestSchema,
    responses: { 201: { description: 'Recording started', schema: recordingSchema }, 404: { description: 'No such stream' }, 501: notImplemented },
    handler: ({ body }) => withRecorder(deps, async (r) => ({ status: 201, body: view(await r.start(body.room, body.identity)) })),
  });
  api.add({
    method: 'GET',
    path: '/v1/recordings',
    operationId: 'listRecordings',
    tag: 'recordings',
    auth: 'admin',
    summary: 'List recordings',
    responses: { 200: { description: 'Recordings', schema: recordingListSchema }, 501: notImplemented },
    handler: () => withRecorder(deps, async (r) => ({ status: 200, body: { recordings: r.list().map(view) } })),
  });
  api.add({
    method: 'DELETE',
    path: '/v1/recordings/{id}',
    operationId: 'stopRecording',
    tag: 'recordings',
    auth: 'admin',
    summary: 'Stop a recording',
    params: z.strictObject({ id: z.string().min(1).max(128) }),
    responses: {
      200: { description: 'The recording after stopping', schema: recordingSchema },
      404: { description: 'No such recording' },
      501: notImplemented,
    },
    handler: ({ params }) => withRecorder(deps, async (r) => ({ status: 200, body: view(await r.stop(params.id)) })),
  });
}
