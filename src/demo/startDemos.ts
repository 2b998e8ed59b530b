/**
 * What the node runs for its demo (when `http.demo` is on): the start page's routes, the auction
 * demo's auctioneer and the watch party's sample. `SubsecNode` calls {@link startDemos} once
 * its events and rooms run, and closes what it returns.
 */
import path from 'node:path';
import type { Config } from '../config/schema';
import type { Logger } from '../core/logger';
import type { EventsService } from '../events/EventsService';
import type { HttpServer } from '../http/HttpServer';
import type { RoomManager } from '../sfu/RoomManager';
import { projectRoot } from '../config/loadConfig';
import { DemoAuctioneer } from './DemoAuctioneer';
import { DemoWatchParty } from './DemoWatchParty';
import { registerDemoRoutes } from './demoRoutes';
import { DEMO_AUCTION_ROOM, DEMO_PARTY_ROOM } from './demoRooms';

/** The sample video of the watch party (src/events/appRoutes.ts makes it): its URL and length. */
const PARTY_SAMPLE = { src: '/apps/media/sample.webm', durationSec: 60 };

/** What {@link startDemos} needs of the node. */
export interface DemoDeps {
  config: Config;
  http: HttpServer;
  rooms: RoomManager;
  events: EventsService | undefined;
  log: Logger;
}

/** The running demo actors. */
export interface Demos {
  auctioneer: DemoAuctioneer | undefined;
  watchParty: DemoWatchParty | undefined;
  close(): void;
}

/** Registers the start page's routes (before the static `/*` route) and starts the demo actors. */
export function startDemos(deps: DemoDeps): Demos {
  const { config, events } = deps;
  registerDemoRoutes(
    deps.http,
    {
      synthetic: config.synthetic.enabled ? { room: config.synthetic.room, identity: 'synthetic' } : null,
      moq: config.moq.enabled && config.moq.bridge.enabled,
      hls: config.hls.enabled,
      qoeDashboard: config.qoe.enabled && config.qoe.dashboard,
      apps: { auction: DEMO_AUCTION_ROOM, watchParty: DEMO_PARTY_ROOM },
    },
    path.join(projectRoot, 'docs'),
  );
  // Room events carry the lots and the shared playback: without them the apps have no demo.
  const auctioneer = events
    ? new DemoAuctioneer({
        room: DEMO_AUCTION_ROOM,
        rooms: deps.rooms,
        events: events.log,
        camera: {
          width: config.synthetic.width,
          height: config.synthetic.height,
          fps: config.synthetic.fps,
          bitrateKbps: config.synthetic.bitrateKbps,
          listenIp: '127.0.0.1',
        },
        idleMs: 15_000,
        lotSec: 45,
        pauseMs: 5_000,
        bidEveryMs: 9_000,
        quietBeforeEndMs: config.events.auction.antiSnipingMs,
        log: deps.log.child('auction'),
      })
    : undefined;
  const watchParty = events
    ? new DemoWatchParty({ room: DEMO_PARTY_ROOM, rooms: deps.rooms, events: events.log, sample: PARTY_SAMPLE, log: deps.log.child('party') })
    : undefined;
  auctioneer?.start();
  watchParty?.start();
  return {
    auctioneer,
    watchParty,
    close: () => {
      auctioneer?.close();
      watchParty?.close();
    },
  };
}
