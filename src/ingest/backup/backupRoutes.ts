/** `/v1/ingest/backup`: streams with primary and backup inputs, which input is live, and each input's state (admin). */
import { z } from 'zod';
import type { ApiRouter } from '../../api/ApiRouter';
import type { BackupSwitchboard } from './BackupSwitchboard';

const role = z.enum(['primary', 'backup']);
const switchSchema = z.object({
  room: z.string(),
  stream: z.string(),
  live: role.nullable().describe('The input viewers see now; null while neither delivers video'),
  pending: role.nullable().describe('The input the stream moves to at its next key frame (a return to the primary, or an input that just started)'),
  switches: z.number().int().describe('Changes of the live input so far (the first input going live counts)'),
  lastSwitch: z
    .object({
      at: z.string(),
      from: role.nullable(),
      to: role,
      reason: z.enum(['first-input', 'disconnect', 'stall', 'primary-restored']),
      warmFrames: z.number().int().describe("Frames sent at once from the new input's last key frame (0: joined at a fresh key frame)"),
    })
    .nullable(),
  inputs: z.array(
    z.object({
      role,
      protocol: z.string().describe('rtmp, srt'),
      connected: z.boolean(),
      lastVideoAgoMs: z.number().int().nullable().describe('Time since its last video packet (ms)'),
      healthyForMs: z.number().int().nullable().describe('Time it has delivered video without a stall (ms); null while stalled'),
    }),
  ),
});

/** Registers the primary/backup routes. */
export function registerBackupRoutes(api: ApiRouter, backups: BackupSwitchboard): void {
  api.add({
    method: 'GET',
    path: '/v1/ingest/backup',
    operationId: 'listBackupStreams',
    tag: 'ingest',
    auth: 'admin',
    summary: 'Streams with primary and backup inputs and which input is live',
    description: 'Publishers name their role in the RTMP key (`&role=backup`) or the SRT stream id (`,role=backup`); see docs/backup-ingest.md.',
    responses: { 200: { description: 'Every such stream', schema: z.object({ streams: z.array(switchSchema) }) } },
    handler: () => ({ status: 200, body: { streams: backups.list() } }),
  });
  api.add({
    method: 'GET',
    path: '/v1/ingest/backup/{room}/{stream}',
    operationId: 'getBackupStream',
    tag: 'ingest',
    auth: 'admin',
    summary: 'One stream with primary and backup inputs',
    params: z.strictObject({ room: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/), stream: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/) }),
    responses: { 200: { description: 'The stream', schema: switchSchema }, 404: { description: 'No such stream with primary and backup inputs' } },
    handler: ({ params }) => ({ status: 200, body: backups.get(params.room, params.stream) }),
  });
}
