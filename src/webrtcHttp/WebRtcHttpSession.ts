/**
 * The part of a WHIP or WHEP session that does not depend on the direction: a room
 * participant with one ICE-lite WebRtcTransport negotiated from the client's SDP offer, its
 * ICE entity tag, ICE restarts, and the timers that close a session whose client vanished
 * (never connected, stayed disconnected, or closed DTLS).
 */
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import type { Logger } from '../core/logger';
import { BadRequestError } from '../core/errors';
import type { Notifications, NotificationName } from '../protocol/signaling';
import type { Participant, Room, RouterSlot } from '../sfu/Room';
import { createRtcTransport, type RtcTransportSettings } from '../sfu/transports';
import type { MediaSection, SessionDescription } from '../sdp/SessionDescription';
import type { LocalTransport } from '../sdp/writeAnswer';
import type { IcePatchTarget } from './httpRequests';

/** Options of a {@link WebRtcHttpSession}. */
export interface WebRtcHttpSessionOptions {
  room: Room;
  identity: string;
  rtcSettings: RtcTransportSettings;
  log: Logger;
  /** Close when ICE has not connected within this time (ms). */
  connectTimeoutMs: number;
  /** Close when ICE stays disconnected this long (ms). */
  disconnectTimeoutMs: number;
}

/** Events of a {@link WebRtcHttpSession}. */
export interface WebRtcHttpSessionEvents {
  closed: [reason: string];
}

const FINGERPRINT_ALGORITHMS = new Set(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']);

/** Base class of WhipSession and WhepSession. */
export abstract class WebRtcHttpSession extends EventEmitter<WebRtcHttpSessionEvents> implements Participant, IcePatchTarget {
  readonly id = crypto.randomUUID();
  abstract readonly kind: 'whip' | 'whep';
  abstract readonly role: 'ingest' | 'viewer';
  readonly identity: string;
  readonly room: Room;
  readonly createdAt = Date.now();
  /** The client's ICE username fragment (changes on ICE restart). */
  remoteUfrag: string | undefined;
  /** MID of the first accepted section (sdpfrags refer to it). */
  firstMid = '0';
  protected readonly options: WebRtcHttpSessionOptions;
  protected readonly log: Logger;
  protected transport: types.WebRtcTransport | undefined;
  protected slot: RouterSlot | undefined;
  #etag = newEtag();
  #connectTimer: NodeJS.Timeout | undefined;
  #disconnectTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: WebRtcHttpSessionOptions) {
    super();
    this.options = options;
    this.room = options.room;
    this.identity = options.identity;
    this.log = options.log;
  }

  /** Entity tag of the current ICE session (quoted, for the ETag header). */
  get etag(): string {
    return this.#etag;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** ICE state of the transport ('new' before it exists). */
  get iceState(): types.IceState {
    return this.transport?.iceState ?? 'new';
  }

  notify<N extends NotificationName>(_name: N, _data: Notifications[N]): void {}

  onRoomClosed(reason: string): void {
    this.close(`room closed (${reason})`);
  }

  /**
   * Joins the room and opens a transport whose DTLS role follows the offer; returns our side
   * of it for the answer. Throws BadRequestError for offers without ICE credentials or a
   * usable fingerprint, or with media outside one BUNDLE group. `routerFor` picks the router
   * the transport lives on (default: the room router the session was placed on).
   */
  protected async openTransport(
    offer: SessionDescription,
    direction: 'send' | 'recv',
    routerFor: (slot: RouterSlot) => Promise<types.Router> = async (slot) => slot.router,
  ): Promise<LocalTransport> {
    const first = offer.media.find((m) => m.port !== 0);
    if (!first) throw new BadRequestError('offer has no active m-section');
    const ufrag = first.iceUfrag ?? offer.iceUfrag;
    const pwd = first.icePwd ?? offer.icePwd;
    if (!ufrag || !pwd) throw new BadRequestError('offer has no a=ice-ufrag / a=ice-pwd');
    const fingerprint = first.fingerprint ?? offer.fingerprint;
    if (!fingerprint || !FINGERPRINT_ALGORITHMS.has(fingerprint.algorithm)) throw new BadRequestError('offer has no usable a=fingerprint');
    const setup = first.setup ?? offer.setup ?? 'actpass';
    if (!['actpass', 'active', 'passive'].includes(setup)) throw new BadRequestError(`bad a=setup:${setup}`);
    checkBundle(offer);
    this.remoteUfrag = ufrag;
    this.slot = await this.joinRoom();
    try {
      const router = await routerFor(this.slot);
      const transport = await createRtcTransport(router, this.options.rtcSettings, { direction, appData: { session: this.id, kind: this.kind } });
      this.transport = transport;
      if (this.#closed) throw new BadRequestError('session closed while opening');
      await transport.connect({
        dtlsParameters: {
          role: setup === 'passive' ? 'server' : 'client',
          fingerprints: [{ algorithm: fingerprint.algorithm as types.FingerprintAlgorithm, value: fingerprint.value }],
        },
      });
      this.#watch(transport);
      return {
        iceParameters: transport.iceParameters,
        iceCandidates: transport.iceCandidates,
        fingerprints: transport.dtlsParameters.fingerprints,
        setup: setup === 'passive' ? 'active' : 'passive',
      };
    } catch (err) {
      this.close('setup failed');
      throw err;
    }
  }

  /** Restarts ICE (RFC 9725 ICE restart via PATCH); new ETag, new local credentials. */
  async restartIce(remoteUfrag: string): Promise<{ iceParameters: types.IceParameters; iceCandidates: types.IceCandidate[] }> {
    if (!this.transport || this.#closed) throw new BadRequestError('session is closed');
    const iceParameters = await this.transport.restartIce();
    this.remoteUfrag = remoteUfrag;
    this.#etag = newEtag();
    this.log.info('ICE restart', { session: this.id });
    return { iceParameters, iceCandidates: this.transport.iceCandidates };
  }

  /** Closes the transport and leaves the room. Idempotent. */
  close(reason = 'deleted'): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#disconnectTimer);
    this.transport?.close();
    this.onClose();
    this.leaveRoom();
    this.log.info(`${this.kind} session closed`, { session: this.id, room: this.room.name, stream: this.streamName, reason });
    this.emit('closed', reason);
  }

  /** The stream this session publishes or watches. */
  abstract get streamName(): string;

  /** Joins the room (a WHIP session enters as an ingest instead); returns the router it lives on. */
  protected joinRoom(): Promise<RouterSlot> {
    return this.room.join(this);
  }

  /** Leaves the room when the session closes. */
  protected leaveRoom(): void {
    this.room.leave(this.id);
  }

  /** Called when DTLS connects (consumers resume then). */
  protected onConnected(): void {}

  /** Called once on close, after the transport closed. */
  protected onClose(): void {}

  #watch(transport: types.WebRtcTransport): void {
    // The router may close under the transport (room closed, worker died).
    transport.observer.once('close', () => this.close('transport closed'));
    this.#connectTimer = setTimeout(() => {
      if (transport.iceState === 'new') this.close('ICE did not connect in time');
    }, this.options.connectTimeoutMs);
    transport.on('icestatechange', (state) => {
      if (state === 'connected' || state === 'completed') {
        clearTimeout(this.#connectTimer);
        clearTimeout(this.#disconnectTimer);
        this.#disconnectTimer = undefined;
      } else if (state === 'disconnected' && !this.#disconnectTimer) {
        this.#disconnectTimer = setTimeout(() => this.close('ICE disconnected'), this.options.disconnectTimeoutMs);
      }
    });
    transport.on('dtlsstatechange', (state) => {
      if (state === 'connected') this.onConnected();
      else if (state === 'failed' || state === 'closed') this.close(`DTLS ${state}`);
    });
  }
}

function newEtag(): string {
  return `"${crypto.randomBytes(9).toString('base64url')}"`;
}

/** Every active m-section must be in one BUNDLE group (one transport per session). */
function checkBundle(offer: SessionDescription): void {
  const active = offer.media.filter((m: MediaSection) => m.port !== 0 || m.bundleOnly);
  if (active.length <= 1) return;
  const group = offer.groups.find((g) => g.semantics === 'BUNDLE');
  const missing = active.filter((m) => !m.mid || !group?.mids.includes(m.mid));
  if (missing.length > 0) throw new BadRequestError('offer must bundle all m-sections in one a=group:BUNDLE (max-bundle)');
}
