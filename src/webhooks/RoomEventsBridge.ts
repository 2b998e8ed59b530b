/**
 * Turns room activity into webhook events: room started/finished, participant joined/left,
 * track published/unpublished/muted/unmuted. When a room closes with people still in it, each
 * gets its `participant.left` (and each track its `track.unpublished`) before `room.finished`,
 * so receivers can pair every start with an end.
 */
import type { types } from 'mediasoup';
import type { RoomManager } from '../sfu/RoomManager';
import type { Participant, Room } from '../sfu/Room';
import type { WebhookEmitter } from './events';

/** Whether a participant's join and leave are `ingest.started` / `ingest.ended`: ingests, unless they report themselves. */
const reportsIngest = (p: Participant): boolean => p.role === 'ingest' && p.joinWebhooks !== false;

interface TrackEntry {
  producer: types.Producer;
  participant: Participant;
}

/** Reports the rooms of one RoomManager to a webhook emitter. */
export class RoomEventsBridge {
  readonly #rooms: RoomManager;
  readonly #webhooks: WebhookEmitter;
  readonly #reasons = new Map<string, string>();
  readonly #onRoom = (room: Room) => this.#watch(room);

  /** Subscribes to every room created from now on. */
  constructor(rooms: RoomManager, webhooks: WebhookEmitter) {
    this.#rooms = rooms;
    this.#webhooks = webhooks;
    rooms.on('roomCreated', this.#onRoom);
  }

  /** Gives the next `participant.left` of this participant a reason (e.g. `kicked`). */
  noteRemoval(participantId: string, reason: string): void {
    this.#reasons.set(participantId, reason);
  }

  /** Stops reporting new rooms. */
  close(): void {
    this.#rooms.off('roomCreated', this.#onRoom);
  }

  #watch(room: Room): void {
    watchRoom(room, this.#webhooks, (id) => {
      const reason = this.#reasons.get(id);
      this.#reasons.delete(id);
      return reason;
    });
  }
}

function trackData(producer: types.Producer, participant: Participant) {
  return { trackId: producer.id, participantId: participant.id, identity: participant.identity, kind: producer.kind };
}

function watchRoom(room: Room, webhooks: WebhookEmitter, reasonOf: (participantId: string) => string | undefined): void {
  const name = room.name;
  const participants = new Map<string, Participant>();
  const tracks = new Map<string, TrackEntry>();
  webhooks.emit({ type: 'room.started', room: name, data: { createdAt: room.createdAt } });
  for (const p of room.participants) participants.set(p.id, p);

  const unpublished = (producerId: string) => {
    const entry = tracks.get(producerId);
    if (!entry) return;
    tracks.delete(producerId);
    webhooks.emit({ type: 'track.unpublished', room: name, data: trackData(entry.producer, entry.participant) });
  };

  room.on('participantJoined', (p) => {
    participants.set(p.id, p);
    webhooks.emit({
      type: 'participant.joined',
      room: name,
      data: { participantId: p.id, identity: p.identity, kind: p.kind, ...(p.displayName ? { displayName: p.displayName } : {}) },
    });
    // Ingests (WHIP, SRT, RTMP, MPEG-TS, …): operators hook encoders' comings and goings (RTSP pulls
    // report ingest.online/offline themselves: their feed joins before the camera answers).
    if (reportsIngest(p)) {
      webhooks.emit({ type: 'ingest.started', room: name, data: { ingestId: p.id, protocol: p.kind, identity: p.identity } });
    }
  });
  room.on('participantLeft', (p) => {
    const reason = reasonOf(p.id);
    if (!participants.delete(p.id)) return;
    webhooks.emit({ type: 'participant.left', room: name, data: { participantId: p.id, identity: p.identity, kind: p.kind, ...(reason ? { reason } : {}) } });
    if (reportsIngest(p)) {
      webhooks.emit({ type: 'ingest.ended', room: name, data: { ingestId: p.id, protocol: p.kind, identity: p.identity, ...(reason ? { reason } : {}) } });
    }
  });
  room.on('producerAdded', (producer, participant) => {
    tracks.set(producer.id, { producer, participant });
    const appData = producer.appData.public as Record<string, unknown> | undefined;
    const small = appData && Object.keys(appData).length > 0 && JSON.stringify(appData).length <= 1024;
    webhooks.emit({
      type: 'track.published',
      room: name,
      data: { ...trackData(producer, participant), type: producer.type, ...(small ? { appData } : {}) },
    });
    producer.observer.on('pause', () => {
      if (tracks.has(producer.id)) webhooks.emit({ type: 'track.muted', room: name, data: trackData(producer, participant) });
    });
    producer.observer.on('resume', () => {
      if (tracks.has(producer.id)) webhooks.emit({ type: 'track.unmuted', room: name, data: trackData(producer, participant) });
    });
  });
  room.on('producerRemoved', (producerId) => unpublished(producerId));
  room.once('closed', (reason) => {
    for (const id of [...tracks.keys()]) unpublished(id);
    for (const p of participants.values()) {
      reasonOf(p.id);
      webhooks.emit({ type: 'participant.left', room: name, data: { participantId: p.id, identity: p.identity, kind: p.kind, reason } });
    }
    participants.clear();
    webhooks.emit({ type: 'room.finished', room: name, data: { reason, durationMs: Date.now() - room.createdAt } });
  });
}
