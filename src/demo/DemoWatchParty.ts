/**
 * The watch-party demo: when someone is in the demo party room and nothing is playing there, the
 * node starts the sample video for everyone (a `playback` room event, the same one the page's
 * PlaybackSync sends), and starts it over each time it ends while people are watching; a visitor
 * who picks something else, pauses or seeks is left alone. Everyone joining gets the state from the
 * room's history and plays in sync.
 */
import type { Logger } from '../core/logger';
import type { RoomEvent } from '../protocol/signaling';
import type { RoomEventLog } from '../events/RoomEventLog';
import type { EventSink } from '../events/RoomFeed';
import type { Room } from '../sfu/Room';
import type { RoomManager } from '../sfu/RoomManager';

/** Options of {@link DemoWatchParty}. */
export interface DemoWatchPartyOptions {
  room: string;
  rooms: RoomManager;
  events: RoomEventLog;
  /** The sample's URL as the page loads it, and its length (s). */
  sample: { src: string; durationSec: number };
  log: Logger;
}

/** The shared playback state, as PlaybackSync sends it. */
interface Playback {
  src?: string;
  playing: boolean;
  position: number;
  rate: number;
  at: number;
}

/** Starts (and loops) the sample in one room whenever people are there and nothing plays. */
export class DemoWatchParty {
  readonly #o: DemoWatchPartyOptions;
  #room: Room | undefined;
  #offRoom: (() => void) | undefined;
  #sink: EventSink | undefined;
  /** The room's history has been replayed into `#state`: only then is "nothing playing" known. */
  #caughtUp = false;
  #state: Playback | undefined;
  #loopTimer: NodeJS.Timeout | undefined;
  #starting = false;
  #closed = false;
  readonly #onRoomCreated = (room: Room): void => this.#follow(room);

  constructor(options: DemoWatchPartyOptions) {
    this.#o = options;
  }

  /** Starts following the room. */
  start(): void {
    this.#o.rooms.on('roomCreated', this.#onRoomCreated);
    const room = this.#o.rooms.get(this.#o.room);
    if (room) this.#follow(room);
  }

  /** Stops. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.rooms.off('roomCreated', this.#onRoomCreated);
    this.#unfollow();
  }

  #follow(room: Room): void {
    if (room.name !== this.#o.room || this.#closed) return;
    this.#unfollow();
    this.#room = room;
    const joined = (): void => this.#ensurePlaying();
    const closed = (): void => this.#unfollow();
    room.on('participantJoined', joined);
    room.on('closed', closed);
    const sink: EventSink = { push: (event) => this.#onEvent(event) };
    this.#sink = sink;
    this.#offRoom = () => {
      room.off('participantJoined', joined);
      room.off('closed', closed);
      this.#o.events.unsubscribe(this.#o.room, sink);
    };
    // The whole retained history first: the current state is its last playback event.
    this.#o.events.subscribe(this.#o.room, sink, 0).then(
      () => {
        if (this.#sink !== sink) return;
        this.#caughtUp = true;
        this.#ensurePlaying();
      },
      (error: unknown) => this.#o.log.warn('watch-party demo cannot follow the room events', { error }),
    );
  }

  #unfollow(): void {
    clearTimeout(this.#loopTimer);
    this.#offRoom?.();
    this.#offRoom = undefined;
    this.#sink = undefined;
    this.#caughtUp = false;
    this.#room = undefined;
    this.#state = undefined;
  }

  #onEvent(event: RoomEvent): void {
    if (event.type !== 'playback') return;
    const p = event.payload as Partial<Playback> | null;
    if (!p || typeof p.playing !== 'boolean' || typeof p.position !== 'number' || typeof p.at !== 'number') return;
    this.#state = {
      ...(typeof p.src === 'string' ? { src: p.src } : {}),
      playing: p.playing,
      position: p.position,
      rate: typeof p.rate === 'number' && p.rate > 0 ? p.rate : 1,
      at: p.at,
    };
    this.#scheduleLoop();
  }

  /** Seconds into the sample the shared state is now (Infinity when not the sample playing). */
  #sampleEndsInMs(): number {
    const s = this.#state;
    if (!s || s.src !== this.#o.sample.src || !s.playing) return Number.POSITIVE_INFINITY;
    const position = s.position + ((Date.now() - s.at) / 1000) * s.rate;
    return ((this.#o.sample.durationSec - position) / s.rate) * 1000;
  }

  /** Starts the sample when nothing was ever chosen, or the sample ran out. */
  #ensurePlaying(): void {
    const room = this.#room;
    if (!room || room.closed || !this.#caughtUp || room.participants.length === 0 || this.#starting) return;
    const s = this.#state;
    if (s && !(s.src === this.#o.sample.src && this.#sampleEndsInMs() <= 250)) return;
    this.#starting = true;
    const state: Playback = { src: this.#o.sample.src, playing: true, position: 0, rate: 1, at: Date.now() };
    this.#o.events
      .publish(this.#o.room, 'playback', state)
      .catch((error: unknown) => this.#o.log.warn('watch-party demo could not start the sample', { error }))
      .finally(() => (this.#starting = false));
  }

  /** While the sample plays, start it over when it ends. */
  #scheduleLoop(): void {
    clearTimeout(this.#loopTimer);
    const endsIn = this.#sampleEndsInMs();
    if (!Number.isFinite(endsIn)) return;
    this.#loopTimer = setTimeout(() => this.#ensurePlaying(), Math.max(0, endsIn));
  }
}
