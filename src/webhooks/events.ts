/**
 * The webhook event catalogue: every event type, its payload, and the envelope receivers get.
 * Features report through {@link WebhookEmitter.emit}; they never wait for delivery.
 */

/** Payload of each event type. */
export interface WebhookEventData {
  /** A room was created on this node (first participant, ingest or output). */
  'room.started': { createdAt: number };
  /** A room closed (`reason`: empty, admin, worker-died, node-shutdown, …). */
  'room.finished': { reason: string; durationMs: number };
  /** A participant (SDK peer, WHIP/WHEP session, SRT feed, synthetic source) joined a room. */
  'participant.joined': { participantId: string; identity: string; displayName?: string; kind: string };
  /** A participant left (`reason` is set when it was removed: kicked, room closed). */
  'participant.left': { participantId: string; identity: string; kind: string; reason?: string };
  /** A participant started publishing a track (a mediasoup producer). */
  'track.published': { trackId: string; participantId: string; identity: string; kind: 'audio' | 'video'; type: string; appData?: Record<string, unknown> };
  /** A published track ended. */
  'track.unpublished': { trackId: string; participantId: string; identity: string; kind: 'audio' | 'video' };
  /** A track was paused (by its publisher or by an admin mute). */
  'track.muted': { trackId: string; participantId: string; identity: string; kind: 'audio' | 'video' };
  /** A paused track was resumed. */
  'track.unmuted': { trackId: string; participantId: string; identity: string; kind: 'audio' | 'video' };
  /** A stream started arriving over WHIP, SRT, RTMP… (emitted by the ingest feature). */
  'ingest.started': { ingestId: string; protocol: string; identity: string; [extra: string]: unknown };
  /** An ingest stream ended. */
  'ingest.ended': { ingestId: string; protocol: string; identity: string; reason?: string; [extra: string]: unknown };
  /** A pulled source (an RTSP camera) delivers media: first time, or back after `ingest.offline`. */
  'ingest.online': { pullId: string; protocol: string; identity: string; url: string; [extra: string]: unknown };
  /** A pulled source that was online (or never came online) failed; the node keeps retrying. */
  'ingest.offline': { pullId: string; protocol: string; identity: string; url: string; reason: string; [extra: string]: unknown };
  /** The live input of a stream with primary and backup inputs changed (`reason`: first-input, disconnect, stall, primary-restored; docs/backup-ingest.md). */
  'ingest.switched': { identity: string; from: 'primary' | 'backup' | null; to: 'primary' | 'backup'; protocol: string; reason: string };
  /** A recording started (emitted by the recording feature). */
  'recording.started': { recordingId: string; identity: string; [extra: string]: unknown };
  /** A recording finished and its files are complete. */
  'recording.finished': { recordingId: string; identity: string; durationMs?: number; location?: string; [extra: string]: unknown };
  /** A push of a stream to an RTMP destination connected and is sending (each (re)connection; docs/restream.md). */
  'restream.started': RestreamEventData & { attempt: number };
  /** A push lost or could not reach its destination; `willRetry` with `retryInMs` unless it gave up. */
  'restream.failed': RestreamEventData & { error: string; attempt: number; willRetry: boolean; retryInMs?: number };
  /** A push ended for good (`reason`: api, stream-ended, gave-up, shutdown). */
  'restream.stopped': RestreamEventData & { reason: string; durationMs: number; bytesSent: number };
  /** A stream's audience-shaped LL-HLS ladder changed (hls.ladderAdaptation, docs/abr-ladder.md): the rungs before and after, and why. */
  'ladder.changed': LadderChangedData;
  /** This node started serving. */
  'node.started': { url: string; region: string; workers: number };
  /** This node is stopping (drain or shutdown). */
  'node.stopped': { reason: string };
  /** Another node joined the cluster (emitted by the cascade feature). */
  'node.joined': { nodeId: string; [extra: string]: unknown };
  /** Another node left the cluster. */
  'node.left': { nodeId: string; reason?: string; [extra: string]: unknown };
  /** A QoE figure of a stream crossed its alert threshold (docs/qoe.md). */
  'qoe.alert_fired': QoeAlertData;
  /** A fired QoE alert is over (back within the threshold, or the stream is gone). */
  'qoe.alert_resolved': QoeAlertData;
}

/** What every restream event says: which push, of which stream, to where (the URL redacted: stream keys are secrets). */
export interface RestreamEventData {
  restreamId: string;
  identity: string;
  /** The destination with its stream key masked (`rtmp://host/app/***`). */
  destination: string;
}

/** One video rung of a ladder, as `ladder.changed` shows it. */
export interface LadderRungData {
  name: string;
  videoKbps: number;
  height?: number;
  copySource: boolean;
  /** `live`: offered to players; `joining`: encoding, offered once it has a segment; `retiring`: no longer offered, encoding until players left it. */
  state: 'live' | 'joining' | 'retiring';
}

/** Payload of `ladder.changed`. */
export interface LadderChangedData {
  /** Publisher identity of the stream. */
  stream: string;
  /** drop, restore, lower or add. */
  action: 'drop' | 'restore' | 'lower' | 'add';
  /** The rung dropped, restored, lowered (its new name) or added. */
  rung: string;
  /** The rung a lowering (or the restore of a lowered rung) replaces. */
  replaces?: string;
  before: LadderRungData[];
  after: LadderRungData[];
  reason: string;
}

/** Payload of the QoE alert events: which figure of which stream and path crossed what. */
export interface QoeAlertData {
  alertId: string;
  /** Publisher identity of the stream (`other` for streams beyond `qoe.maxStreams`). */
  stream: string;
  /** Delivery path (webrtc, moq, hls); absent for ingest figures. */
  path?: string;
  /** startupMs, rebufferRatio, bitrateKbps, latencyMs, failureRate, ingestFrameRate, ingestLossRatio, ingestKeyframeIntervalMs. */
  figure: string;
  op: '>' | '<';
  threshold: number;
  /** The figure's value (over `qoe.windowSeconds`) when it fired. */
  value: number;
  firedAt: number;
  resolvedAt?: number;
}

/** One of the event type names. */
export type WebhookEventType = keyof WebhookEventData;

/** Every event type, for docs, filters and validation. */
export const WEBHOOK_EVENT_TYPES = [
  'room.started',
  'room.finished',
  'participant.joined',
  'participant.left',
  'track.published',
  'track.unpublished',
  'track.muted',
  'track.unmuted',
  'ingest.started',
  'ingest.ended',
  'ingest.online',
  'ingest.offline',
  'ingest.switched',
  'recording.started',
  'recording.finished',
  'node.started',
  'node.stopped',
  'node.joined',
  'node.left',
  'qoe.alert_fired',
  'qoe.alert_resolved',
  'ladder.changed',
] as const satisfies readonly WebhookEventType[];

/** What a feature hands to {@link WebhookEmitter.emit}. `room` orders delivery: same room, same order. */
export type WebhookEventInput = { [T in WebhookEventType]: { type: T; room?: string; data: WebhookEventData[T] } }[WebhookEventType];

/** The JSON body a receiver gets. `id` is stable across retries (deduplicate on it). */
export type WebhookEvent = WebhookEventInput & {
  id: string;
  /** When the event happened, ms since the epoch. */
  createdAt: number;
  /** Node the event happened on. */
  node: string;
};

/** The one call features use to report an event; returns at once and never throws. */
export interface WebhookEmitter {
  emit(event: WebhookEventInput): void;
}

/** True when `type` matches one of the endpoint filters (`room.started`, `room.*`, `*`). */
export function matchesEventFilter(type: string, filters: readonly string[] | undefined): boolean {
  if (!filters) return true;
  return filters.some((f) => f === '*' || f === type || (f.endsWith('.*') && type.startsWith(f.slice(0, -1))));
}
