/**
 * The composition root of one node: builds every component from its config slice in the
 * constructor, wires them, and owns their lifecycle: `start()` starts them in order, `close()`
 * closes them in reverse, awaiting each (src/core/Lifecycle.ts). Choices are made here once —
 * the coordinator (memory or Redis) inside the cascade, which every stream-hub lease goes through
 * alike. `src/main.ts` runs it as a process; tests construct it in-process on free ports.
 */
import path from 'node:path';
import type { Config } from './config/schema';
import { projectRoot } from './config/loadConfig';
import { createLogger, setLogLevel, type Logger } from './core/logger';
import { Lifecycle } from './core/Lifecycle';
import { TokenService } from './auth/tokens';
import { WorkerPool } from './sfu/WorkerPool';
import { RoomManager } from './sfu/RoomManager';
import type { RtcTransportSettings } from './sfu/transports';
import { SfuMetrics } from './metrics/SfuMetrics';
import { HttpServer } from './http/HttpServer';
import { serveStatic } from './http/staticFiles';
import { SignalingServer } from './signaling/SignalingServer';
import type { ResponseData } from './protocol/signaling';
import { registerApi } from './api/registerApi';
import { ConsumerIndex } from './api/ConsumerIndex';
import { localNodeInfo } from './api/localNode';
import { WebRtcServerPool } from './sfu/WebRtcServerPool';
import type { OutputRegistry, RecordingController } from './streams/OutputRegistry';
import { StreamHub } from './streams/StreamHub';
import { TurnCredentials } from './turn/TurnCredentials';
import { WebhookDispatcher } from './webhooks/WebhookDispatcher';
import { RoomEventsBridge } from './webhooks/RoomEventsBridge';
import { registerHealthRoutes } from './api/healthRoutes';
import { SyntheticSource } from './synthetic/SyntheticSource';
import { Cascade } from './cascade/Cascade';
import { RelayServer } from '../relay/RelayServer';
import { MoqBridge } from './moq/MoqBridge';
import { registerMoqMetrics } from './moq/MoqMetrics';
import { HlsService } from './hls/HlsService';
import { CmcdIntake } from './hls/CmcdIntake';
import { registerCmcdEventRoutes } from './hls/CmcdEventRoutes';
import { registerHlsRoutes } from './hls/HlsRoutes';
import { registerLadderRoutes } from './hls/ladder/ladderRoutes';
import { registerDashRoutes } from './dash/DashRoutes';
import { RestreamService } from './restream/RestreamService';
import { registerRestreamRoutes } from './restream/restreamRoutes';
import { EventsService } from './events/EventsService';
import { registerAppRoutes } from './demo/appRoutes';
import { attachEventsTrack } from './events/MoqEventsTrack';
import { QoeService } from './qoe/QoeService';
import { registerQoeRoutes } from './qoe/qoeRoutes';
import { Recorder } from './hls/Recorder';
import { WhipEndpoint } from './ingest/whip/WhipEndpoint';
import { WhepEndpoint } from './egress/whep/WhepEndpoint';
import { SrtServer } from './ingest/srt/SrtServer';
import { RtmpServer } from './ingest/rtmp/RtmpServer';
import { RtspIngest } from './ingest/rtsp/RtspIngest';
import { registerRtspRoutes } from './ingest/rtsp/rtspRoutes';
import { BackupSwitchboard } from './ingest/backup/BackupSwitchboard';
import { registerBackupRoutes } from './ingest/backup/backupRoutes';
import { MpegTsIngest } from './ingest/mpegts/MpegTsIngest';
import { Moderation } from './moderation/Moderation';
import { registerApiDocsRoutes } from './api/apiDocsRoutes';
import { startDemos, type Demos } from './demo/startDemos';

/** A running node. */
export class SubsecNode {
  readonly config: Config;
  readonly log: Logger;
  readonly tokens: TokenService;
  readonly pool: WorkerPool;
  readonly rooms: RoomManager;
  /** Streams across nodes: coordinator (memory or Redis), pulls and pipes (docs/cascade.md). */
  readonly cascade: Cascade;
  /** The stream hub: every ingest's streams, acquired by outputs on demand (src/streams/). */
  readonly streams: StreamHub;
  readonly metrics: SfuMetrics;
  readonly http: HttpServer;
  readonly signaling: SignalingServer;
  readonly rtcSettings: RtcTransportSettings;
  /** Outputs of streams (HLS, MoQ, WHEP, recordings…) as `/v1/streams` lists them (the hub's listing). */
  readonly outputs: OutputRegistry;
  /** Webhook sender: features report events with `node.webhooks.emit({type, room, data})`. */
  readonly webhooks: WebhookDispatcher;
  /** TURN credential issuer (when `turn.enabled`): `node.turn?.iceServers(identity)`. */
  readonly turn: TurnCredentials | undefined;
  /** One WebRtcServer per worker (when `sfu.webRtcServer.enabled`). */
  readonly webRtcServers: WebRtcServerPool | undefined;
  /** Recordings (with LL-HLS); without it `/v1/recordings` answers 501. */
  readonly recorder: (RecordingController & { close(): Promise<void> }) | undefined;
  readonly #consumers: ConsumerIndex;
  readonly #roomEvents: RoomEventsBridge;
  #startedAt = Date.now();
  /** WHIP ingest endpoint (`/whip/...`). */
  readonly whip: WhipEndpoint;
  /** WHEP playback endpoint (`/whep/...`). */
  readonly whep: WhepEndpoint;
  /** SRT ingest listener (when `srt.enabled`), listening after start(). */
  readonly srt: SrtServer | undefined;
  /** RTMP(S) ingest listener (when `rtmp.enabled`), listening after start(). */
  readonly rtmp: RtmpServer | undefined;
  /** Streams with primary and backup inputs (RTMP/SRT publishers naming a role), `/v1/ingest/backup`. */
  readonly backups: BackupSwitchboard;
  /** RTSP camera pulls (when `rtsp.enabled`): `node.rtsp.add/remove/list`, `/v1/ingest/rtsp`. */
  readonly rtsp: RtspIngest | undefined;
  /** MPEG-TS over UDP listeners (when `mpegts.enabled`), bound by start(). */
  readonly mpegts: MpegTsIngest | undefined;
  /** The MoQ relay (when `moq.enabled`): `node.moqRelay.addresses.url` is its session URL. */
  readonly moqRelay: RelayServer | undefined;
  /** The SFU → MoQ bridge (when `moq.enabled` and `moq.bridge.enabled`), bridging after start(). */
  readonly moqBridge: MoqBridge | undefined;
  /** LL-HLS packaging (when `hls.enabled`): `/hls/{room}/{stream}/index.m3u8`. */
  readonly hls: HlsService | undefined;
  /** RTMP pushes of streams to other platforms (docs/restream.md): `/v1/rooms/{room}/streams/{stream}/restreams`. */
  readonly restreams: RestreamService;
  /** Room events (when `events.enabled`): `node.events.log.send/subscribe/addHook`, docs/events.md. */
  readonly events: EventsService | undefined;
  /** Viewer QoE (when `qoe.enabled`): reports, metrics, dashboard data and alerts, docs/qoe.md. */
  readonly qoe: QoeService | undefined;
  /** Bans (a kick keeps the identity out of the room; Redis-backed in a cascade): `node.moderation.store`. */
  readonly moderation: Moderation;
  readonly #synthetic: SyntheticSource | undefined;
  readonly #life: Lifecycle;
  #demos: Demos | undefined;
  #draining = false;

  constructor(config: Config) {
    this.config = config;
    setLogLevel(config.logLevel);
    this.log = createLogger(`node:${config.node.id}`);
    this.#life = new Lifecycle(this.log);
    this.pool = new WorkerPool(
      {
        workers: config.sfu.workers,
        logLevel: config.sfu.logLevel,
        respawnBackoffMs: config.sfu.respawnBackoffMs,
        respawnBackoffMaxMs: config.sfu.respawnBackoffMaxMs,
      },
      this.log.child('sfu'),
    );
    this.rooms = new RoomManager(this.pool, { consumersPerRouter: config.sfu.consumersPerRouter }, this.log.child('rooms'));
    this.#life.own('workers', () => this.pool.close());
    this.cascade = new Cascade({ config, rooms: this.rooms, pool: this.pool, log: this.log.child('cascade') });
    this.streams = new StreamHub({ rooms: this.rooms, sources: this.cascade, limits: { maxConsumersPerWorker: config.sfu.maxConsumersPerWorker } });
    this.outputs = this.streams.outputs;
    this.cascade.coordinator.on('nodeUp', (n) => this.webhooks.emit({ type: 'node.joined', data: { nodeId: n.id, region: n.region } }));
    this.cascade.coordinator.on('nodeDown', (id) => this.webhooks.emit({ type: 'node.left', data: { nodeId: id } }));
    this.metrics = new SfuMetrics(this.pool, config.node.id);
    // Both observe workers from their creation on, so they must exist before pool.start().
    this.#consumers = new ConsumerIndex(this.pool);
    const webRtcServers = config.sfu.webRtcServer.enabled
      ? new WebRtcServerPool(
          this.pool,
          { ...config.sfu.webRtcServer, listenAddresses: config.sfu.listenAddresses, rtcMinPort: config.sfu.rtcMinPort, rtcMaxPort: config.sfu.rtcMaxPort },
          this.log.child('webrtc-server'),
        )
      : undefined;
    this.webRtcServers = webRtcServers;
    this.turn = config.turn.enabled
      ? new TurnCredentials({ urls: config.turn.urls, secret: config.turn.secret, ttlSeconds: config.turn.credentialTtlSeconds })
      : undefined;
    this.webhooks = new WebhookDispatcher({ nodeId: config.node.id, config: config.webhooks, registry: this.metrics.registry }, this.log.child('webhooks'));
    this.#life.own('webhooks', () => this.webhooks.close());
    this.#roomEvents = new RoomEventsBridge(this.rooms, this.webhooks);
    this.#life.own('room webhooks', () => this.#roomEvents.close());
    this.moderation = new Moderation({
      config,
      rooms: this.rooms,
      noteRemoval: (id, reason) => this.#roomEvents.noteRemoval(id, reason),
      log: this.log.child('bans'),
    });
    // Every entry point that takes a token (signaling, WHIP/WHEP, SRT, the MoQ relay) asks the bans.
    this.tokens = TokenService.fromConfig(config.auth, this.moderation.admission);
    this.rtcSettings = {
      listenAddresses: config.sfu.listenAddresses,
      rtcMinPort: config.sfu.rtcMinPort,
      rtcMaxPort: config.sfu.rtcMaxPort,
      initialAvailableOutgoingBitrate: config.sfu.initialAvailableOutgoingBitrate,
      maxIncomingBitrate: config.sfu.maxIncomingBitrate,
      maxOutgoingBitrate: config.sfu.maxOutgoingBitrate,
      ...(webRtcServers ? { webRtcServerFor: (router) => webRtcServers.serverFor(router) } : {}),
    };
    this.http = new HttpServer({ corsOrigin: config.http.corsOrigin }, this.log.child('http'));
    this.events = config.events.enabled
      ? new EventsService({ config, rooms: this.rooms, registry: this.metrics.registry, log: this.log.child('events') })
      : undefined;
    // Observes workers from their creation on, like the metrics: before pool.start().
    this.qoe = config.qoe.enabled
      ? new QoeService({
          config: config.qoe,
          rooms: this.rooms,
          pool: this.pool,
          registry: this.metrics.registry,
          webhooks: this.webhooks,
          log: this.log.child('qoe'),
        })
      : undefined;
    const qoe = this.qoe;
    if (qoe) this.#life.own('qoe', () => qoe.close());
    this.signaling = new SignalingServer({
      rooms: this.rooms,
      streams: this.streams,
      tokens: this.tokens,
      rtcSettings: this.rtcSettings,
      metrics: this.metrics,
      options: config.signaling,
      log: this.log.child('signaling'),
      joinHooks: this.cascade.joinHooks,
      events: this.events?.log,
      qoe: this.qoe,
      moqEndpoint: (room) => this.#moqEndpoint(room),
    });
    const turn = this.turn;
    const webrtcHttp = {
      rooms: this.rooms,
      tokens: this.tokens,
      rtcSettings: this.rtcSettings,
      metrics: this.metrics,
      isDraining: () => this.#draining,
      // A fresh time-limited TURN credential for the token's identity, per request.
      iceServersFor: turn ? (identity: string) => turn.iceServers(identity) : undefined,
    };
    this.backups = new BackupSwitchboard({
      config: config.ingest.backup,
      rooms: this.rooms,
      metrics: this.metrics,
      webhooks: (e) => this.webhooks.emit(e),
      log: this.log.child('backup'),
    });
    const backups = this.backups;
    this.whip = new WhipEndpoint({ ...webrtcHttp, config: config.whip, log: this.log.child('whip'), backups });
    this.whep = new WhepEndpoint({ ...webrtcHttp, pool: this.pool, config: config.whep, log: this.log.child('whep'), streams: this.streams });
    this.moqRelay = config.moq.enabled
      ? new RelayServer({
          config: config.moq.relay,
          tokens: this.tokens,
          name: config.node.id,
          roomPrefix: config.moq.bridge.prefix,
          log: this.log.child('moq'),
          directory: this.cascade.relayDirectory(config.moq.relay.upstreams),
        })
      : undefined;
    if (this.moqRelay) registerMoqMetrics(this.metrics.registry, this.moqRelay.stats);
    this.hls = config.hls.enabled
      ? new HlsService({
          streams: this.streams,
          config: config.hls,
          registry: this.metrics.registry,
          log: this.log.child('hls'),
          ...(this.events && config.events.hlsDateRanges ? { dateRanges: this.events.timeline } : {}),
          onLadderChanged: (stream, c) =>
            this.webhooks.emit({
              type: 'ladder.changed',
              room: stream.room.name,
              data: { stream: stream.identity, action: c.action, rung: c.rung, replaces: c.replaces, before: c.before, after: c.after, reason: c.reason },
            }),
        })
      : undefined;
    this.recorder = this.hls
      ? Recorder.forService(this.hls, config.hls.recording, this.log.child('recorder'), (info) =>
          this.webhooks.emit({
            type: 'recording.finished',
            room: info.room,
            data: {
              recordingId: info.id,
              identity: info.identity,
              state: info.state,
              durationMs: (info.endedAt ?? Date.now()) - info.startedAt,
              ...(info.location ? { location: info.location } : {}),
            },
          }),
        )
      : undefined;
    this.srt = config.srt.enabled
      ? new SrtServer({ config: config.srt, rooms: this.rooms, tokens: this.tokens, metrics: this.metrics, log: this.log.child('srt'), backups })
      : undefined;
    this.rtmp = config.rtmp.enabled
      ? new RtmpServer({ config: config.rtmp, rooms: this.rooms, tokens: this.tokens, metrics: this.metrics, log: this.log.child('rtmp'), backups })
      : undefined;
    this.rtsp = config.rtsp.enabled
      ? new RtspIngest({
          config: config.rtsp,
          rooms: this.rooms,
          metrics: this.metrics,
          webhooks: (e) => this.webhooks.emit(e),
          log: this.log.child('rtsp'),
          backups,
        })
      : undefined;
    this.mpegts = config.mpegts.enabled
      ? new MpegTsIngest({ config: config.mpegts, rooms: this.rooms, metrics: this.metrics, log: this.log.child('mpegts'), backups })
      : undefined;
    const relay = this.moqRelay;
    const events = this.events;
    this.moqBridge =
      relay && config.moq.bridge.enabled
        ? new MoqBridge({
            streams: this.streams,
            relay,
            prefix: config.moq.bridge.prefix,
            relayUrl: () => relay.addresses.url,
            log: this.log.child('moq-bridge'),
            // Room events ride along as an `events.json` track of each bridged broadcast (src/events/MoqEventsTrack.ts).
            ...(events
              ? {
                  onBroadcast: (room: string, _identity: string, broadcast: Parameters<typeof attachEventsTrack>[2]) =>
                    attachEventsTrack(events.log, room, broadcast, this.log.child('events')),
                }
              : {}),
          })
        : undefined;
    this.#synthetic = config.synthetic.enabled
      ? new SyntheticSource({ ...config.synthetic, listenIp: '127.0.0.1' }, this.rooms, this.log.child('synthetic'))
      : undefined;
    this.restreams = new RestreamService({
      hls: this.hls,
      config: config.restream,
      webhooks: this.webhooks,
      registry: this.metrics.registry,
      log: this.log.child('restream'),
    });
  }

  /** The base URL of the HTTP server (after start). */
  get url(): string {
    return this.config.http.publicUrl ?? `http://${this.config.http.host}:${this.http.port}`;
  }

  /** Names of the started components, in start order (empty once closed). */
  get components(): string[] {
    return this.#life.started;
  }

  /** The start page's routes and the apps' demo actors (when `http.demo`, after start), src/demo. */
  get demos(): Demos | undefined {
    return this.#demos;
  }

  /** True once a drain has begun. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Where SDK viewers reach a room's bridged streams over MoQ (the join response's `moq`). */
  #moqEndpoint(room: string): ResponseData['join']['moq'] {
    const relay = this.moqRelay;
    if (!relay || !this.moqBridge) return undefined;
    const endpoint: NonNullable<ResponseData['join']['moq']> = {
      url: this.config.moq.relay.publicUrl ?? relay.addresses.url,
      root: this.moqBridge.pathOf(room, ''),
    };
    const sha256 = relay.certificateSha256;
    if (relay.addresses.http3Url && sha256) {
      // Behind a public URL the UDP listener is reached at the same host name.
      const wt = new URL(relay.addresses.http3Url);
      if (this.config.moq.relay.publicUrl) wt.hostname = new URL(this.config.moq.relay.publicUrl).hostname;
      endpoint.webtransport = { url: wt.origin, certificateSha256: sha256 };
    }
    return endpoint;
  }

  /** Starts every component in order (workers, hub, routes, HTTP, cascade, ingest, MoQ, the synthetic source); resolves with the base URL. */
  async start(): Promise<string> {
    const life = this.#life;
    await life.start(
      'workers',
      async () => {
        await this.pool.start();
        await this.webRtcServers?.ready(this.pool.workers.map((s) => s.worker));
      },
      () => undefined,
    );
    this.#startedAt = Date.now();
    await life.start('rooms', undefined, () => this.rooms.close());
    await life.start(
      'streams',
      () => this.streams.start(),
      () => this.streams.close(),
    );
    const events = this.events;
    if (events)
      await life.start(
        'events',
        () => events.start(),
        () => events.close(),
      );
    await life.start(
      'bans',
      () => this.moderation.start(),
      () => this.moderation.close(),
    );
    this.signaling.attach(this.http.app);
    registerHealthRoutes(this.http, { pool: this.pool, metrics: this.metrics, isDraining: () => this.#draining });
    const localNode = () =>
      localNodeInfo({
        config: this.config,
        url: this.url,
        startedAt: this.#startedAt,
        draining: this.#draining,
        pool: this.pool,
        rooms: this.rooms,
        consumers: this.#consumers,
        webRtcServers: this.webRtcServers,
      });
    const api = registerApi(this.http, {
      rooms: this.rooms,
      consumers: this.#consumers,
      streams: this.streams,
      outputs: this.outputs,
      tokens: this.tokens,
      adminKey: this.config.auth.adminKey,
      demoTokens: this.config.auth.demoTokens,
      turn: this.turn,
      localNode,
      listNodes: () => this.cascade.listNodes(localNode),
      recorder: () => this.recorder,
      noteRemoval: (id, reason) => this.#roomEvents.noteRemoval(id, reason),
      moderation: this.moderation,
      version: '1',
    });
    registerRestreamRoutes(api, this.restreams);
    if (this.hls) registerLadderRoutes(api, this.hls);
    registerApiDocsRoutes(this.http, this.config.http.demo);
    if (this.qoe) registerQoeRoutes(api, this.http, this.qoe, this.config.qoe.dashboard ? path.join(projectRoot, 'clients', 'qoe-dashboard') : undefined);
    if (this.rtsp) registerRtspRoutes(api, this.rtsp);
    registerBackupRoutes(api, this.backups);
    if (this.config.whip.enabled) this.whip.register(this.http);
    if (this.config.whep.enabled) this.whep.register(this.http);
    if (this.hls) {
      const intake = new CmcdIntake(this.metrics.registry, { onRecord: (target, data, now) => this.qoe?.recordCmcd(target, data, now) });
      registerHlsRoutes(this.http, {
        service: this.hls,
        intake,
        tokens: this.tokens,
        registry: this.metrics.registry,
        corsOrigin: this.config.http.corsOrigin,
        nodeId: this.config.node.id,
      });
      // LL-DASH: a second manifest over the same packaging, CMCD and CMSD (docs/ll-dash.md).
      if (this.config.dash.enabled)
        registerDashRoutes(this.http, {
          service: this.hls,
          config: this.config.dash,
          intake,
          tokens: this.tokens,
          registry: this.metrics.registry,
          corsOrigin: this.config.http.corsOrigin,
          nodeId: this.config.node.id,
        });
      registerCmcdEventRoutes(this.http, { intake, tokens: this.tokens, access: this.config.hls.access, corsOrigin: this.config.http.corsOrigin });
    }
    if (this.config.http.demo) {
      // The start page's routes, the demo auctioneer and the watch party's sample (src/demo).
      await life.start(
        'demos',
        () => {
          this.#demos = startDemos({ config: this.config, http: this.http, rooms: this.rooms, events: this.events, log: this.log.child('demo') });
        },
        () => this.#demos?.close(),
      );
      // The watch-party and auction apps (clients/apps), next to the demo page.
      registerAppRoutes(this.http, path.join(projectRoot, 'clients', 'apps'));
      serveStatic(this.http, '/sdk', path.join(projectRoot, 'clients', 'dist'));
      serveStatic(this.http, '/', path.join(projectRoot, 'clients', 'demo'));
    }
    await life.start(
      'http',
      () => this.http.listen(this.config.http.host, this.config.http.port),
      () => this.http.close(),
    );
    await life.start(
      'cascade',
      () => this.cascade.start({ url: () => this.url, draining: () => this.#draining, summary: localNode, registry: this.metrics.registry }),
      () => this.cascade.close(),
    );
    await life.start('signaling', undefined, () => this.signaling.closeAll());
    await life.start('whip', undefined, () => this.whip.close());
    await life.start('whep', undefined, () => this.whep.close());
    const hls = this.hls;
    if (hls)
      await life.start(
        'hls',
        () => hls.start(),
        () => hls.close(),
      );
    const recorder = this.recorder;
    if (recorder) await life.start('recorder', undefined, () => recorder.close());
    await life.start('restreams', undefined, () => this.restreams.close());
    // Closed after the RTMP and SRT listeners (whose inputs leave first).
    await life.start('backups', undefined, () => this.backups.close());
    const srt = this.srt;
    if (srt)
      await life.start(
        'srt',
        () => srt.listen(),
        () => srt.close(),
      );
    const rtmp = this.rtmp;
    if (rtmp)
      await life.start(
        'rtmp',
        () => rtmp.listen(),
        () => rtmp.close(),
      );
    const rtsp = this.rtsp;
    if (rtsp)
      await life.start(
        'rtsp',
        () => rtsp.start(),
        () => rtsp.close(),
      );
    const mpegts = this.mpegts;
    if (mpegts)
      await life.start(
        'mpegts',
        () => mpegts.start(),
        () => mpegts.close(),
      );
    const relay = this.moqRelay;
    if (relay)
      await life.start(
        'moq relay',
        () => relay.start(),
        () => relay.close(),
      );
    const bridge = this.moqBridge;
    if (bridge)
      await life.start(
        'moq bridge',
        () => bridge.start(),
        () => bridge.close(),
      );
    const synthetic = this.#synthetic;
    if (synthetic)
      await life.start(
        'synthetic source',
        () => synthetic.start(),
        () => synthetic.close(),
      );
    this.webhooks.emit({ type: 'node.started', data: { url: this.url, region: this.config.node.region, workers: this.pool.workers.length } });
    this.log.info('node started', { url: this.url, workers: this.pool.workers.length });
    return this.url;
  }

  /** Graceful drain: stop admitting, tell clients, close everything after the deadline. */
  async drain(deadlineMs = this.config.drainTimeoutMs): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    this.log.info('draining', { deadlineMs });
    this.signaling.drain(deadlineMs);
    this.moqRelay?.drain();
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline && this.signaling.socketCount > 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    // Last events (rooms finished, node stopped) get a short chance to reach webhook receivers.
    this.rooms.close();
    this.webhooks.emit({ type: 'node.stopped', data: { reason: 'drain' } });
    await this.webhooks.flush(Math.min(5_000, Math.max(1_000, deadline - Date.now())));
    await this.close();
  }

  /** Closes everything immediately, in the reverse of the start order, awaiting each close. Idempotent. */
  close(): Promise<void> {
    return this.#life.close();
  }
}
