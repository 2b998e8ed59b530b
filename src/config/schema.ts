/**
 * The node's configuration tree: one zod schema, strict at every level so unknown keys are
 * rejected, with defaults so an empty file yields a working single node.
 */
import { ladderAdaptationConfigSchema } from '../hls/ladder/ladderConfig';
import { z } from 'zod';
import os from 'node:os';
import { cascadeConfigSchema } from '../cascade/cascadeConfig';
import { redisConfigSchema } from '../redis/redisConfig';
import { relayConfigSchema } from '../../relay/RelayConfig';
import { eventsConfigSchema } from '../events/eventsConfig';
import { qoeConfigSchema } from '../qoe/qoeConfig';
import { bansConfigSchema } from '../moderation/moderationConfig';
import { dashConfigSchema } from '../dash/dashConfig';
import { restreamConfigSchema } from '../restream/restreamConfig';
import { tokenKeySchema } from '../auth/tokenKeys';
import { ingestConfigSchema } from '../ingest/backup/backupConfig';

const port = z.number().int().min(0).max(65535);

/** One RTSP camera the node pulls (config `rtsp.sources`, `POST /v1/ingest/rtsp`). */
export const rtspSourceSchema = z.strictObject({
  /** Stable id (`GET/DELETE /v1/ingest/rtsp/{id}`); default `<room>-<stream>`. */
  id: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,128}$/)
    .optional(),
  /** `rtsp://host[:port]/path` (credentials go in username/password, not the URL). */
  url: z
    .string()
    .regex(/^rtsps?:\/\/[^\s@/]+(\/\S*)?$/, 'an rtsp:// URL without user:password@ (use username/password)')
    .max(2048),
  /** Room the camera is published into. */
  room: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  /** Stream name (the feed's identity). */
  stream: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
  /** Camera user (Basic or Digest, whichever the camera asks for). */
  username: z.string().max(256).optional(),
  /** Camera password. */
  password: z.string().max(256).optional(),
  /** RTP over the RTSP TCP connection (interleaved) or over UDP. */
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  /** The camera's role when the stream has primary and backup inputs (docs/backup-ingest.md); none = a single-input stream. */
  role: z.enum(['primary', 'backup']).optional(),
});

/** A listen address for RTC transports: bind `ip`, advertise `announcedAddress` to clients. */
const listenAddress = z.strictObject({
  /** Local IP to bind. */
  ip: z.string().min(1),
  /** Public IP or hostname announced in ICE candidates (default: the bound ip). */
  announcedAddress: z.string().min(1).optional(),
});

/** Options shared by the WHIP and WHEP endpoints. */
const webrtcHttpSection = (maxSessions: number) =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      /** ICE servers advertised in `Link` headers (`stun:`/`turn:` URLs; credentials optional). */
      iceServers: z
        .array(
          z.strictObject({
            /** One `stun:`/`stuns:`/`turn:`/`turns:` URL. */
            urls: z.string().regex(/^(stuns?|turns?):\S+$/),
            /** TURN user name (static; `turn.enabled` hands out time-limited ones instead). */
            username: z.string().optional(),
            /** TURN password for `username`. */
            credential: z.string().optional(),
          }),
        )
        .default([]),
      /** Sessions this node holds at once; more get 503. */
      maxSessions: z.number().int().min(1).default(maxSessions),
      /** A session whose ICE has not connected by then is closed (ms). */
      connectTimeoutMs: z.number().int().min(1_000).default(20_000),
      /** A session whose ICE stays disconnected this long is closed (ms). */
      disconnectTimeoutMs: z.number().int().min(500).default(10_000),
    })
    .prefault({});

export const configSchema = z.strictObject({
  /** Identity of this node in logs, metrics and the cascade registry (default: hostname). */
  node: z
    .strictObject({
      /** This node's id: unique among the nodes of a cascade. */
      id: z
        .string()
        .min(1)
        .default(() => os.hostname()),
      /** Region of this node: the cascade relays and redirects within a region first. */
      region: z.string().min(1).default('local'),
    })
    .prefault({}),
  /** HTTP + WebSocket server (uWebSockets.js). */
  http: z
    .strictObject({
      /** Address the HTTP server binds (`0.0.0.0`: every interface). */
      host: z.string().min(1).default('127.0.0.1'),
      /** TCP port; 0 picks a free one (printed at start). */
      port: port.default(8080),
      /** Public base URL printed and used in Location headers (default: derived from host/port). */
      publicUrl: z.string().url().optional(),
      /** Serve the demo page and the SDK bundle at `/`. */
      demo: z.boolean().default(true),
      /** Allowed CORS origin for browser clients of WHIP/WHEP/HLS/REST. */
      corsOrigin: z.string().default('*'),
    })
    .prefault({}),
  /** Authentication: JWT (HS256) tokens and the admin key that issues them. */
  auth: z
    .strictObject({
      /** HMAC secret for tokens; at least 16 characters. */
      jwtSecret: z.string().min(16).default('subsec-dev-secret-change-me'),
      /** Admin key for `POST /v1/tokens` and the REST API (Authorization: Bearer <key>). */
      adminKey: z.string().min(8).default('subsec-dev-admin-key'),
      /** Default token lifetime in seconds. */
      tokenTtlSeconds: z
        .number()
        .int()
        .min(10)
        .max(7 * 24 * 3600)
        .default(6 * 3600),
      /** Issue tokens without credentials at `GET /demo/token` (only for local demos). */
      demoTokens: z.boolean().default(true),
      /** Further token keys by key id (`kid`): HS256 secrets or ES256/EdDSA/RS256 public (and, to issue, private) keys. Remove a key to revoke every token it signed. */
      keys: z.array(tokenKeySchema).max(64).default([]),
      /** Key id (among `keys`) that signs this node's own tokens; unset = `jwtSecret` (HS256, no `kid`). */
      signingKeyId: z.string().min(1).optional(),
      /** Accept tokens without `kid`, verified with `jwtSecret`. Turn off once every issuer uses keys by id. */
      acceptJwtSecret: z.boolean().default(true),
      /** A JWK Set file (JSON) of public keys by `kid`, read at start: an auth service's keys. */
      jwksFile: z.string().min(1).optional(),
      /** A JWK Set URL (an auth service's `/.well-known/jwks.json`), fetched on first use and again for an unknown `kid` (at most every 30 s). */
      jwksUrl: z.url().optional(),
      /** When set, tokens must carry this audience (`aud`), and this node's own tokens carry it. */
      audience: z.string().min(1).optional(),
    })
    .superRefine((a, ctx) => {
      if (a.signingKeyId !== undefined && !a.keys.some((k) => k.kid === a.signingKeyId)) {
        ctx.addIssue({ code: 'custom', path: ['signingKeyId'], message: `no key with kid ${a.signingKeyId} in auth.keys` });
      }
    })
    .prefault({}),
  /** mediasoup SFU. */
  sfu: z
    .strictObject({
      /** Number of mediasoup workers; 0 means one per CPU core. */
      workers: z.number().int().min(0).max(256).default(0),
      /** Worker log level. */
      logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
      /** UDP/TCP port range for RTC transports: first port. */
      rtcMinPort: port.default(40000),
      /** UDP/TCP port range for RTC transports: last port. */
      rtcMaxPort: port.default(49999),
      /** Addresses RTC transports listen on. */
      listenAddresses: z
        .array(listenAddress)
        .min(1)
        .default([{ ip: '127.0.0.1' }]),
      /** Consumers a router may hold before new peers of its room spill to another worker. */
      consumersPerRouter: z.number().int().min(1).default(500),
      /** Consumers a media worker may hold in all (every room, every output); past it a new consumer is refused with CAPACITY (503). 0 = no limit. */
      maxConsumersPerWorker: z.number().int().min(0).default(0),
      /** Initial outgoing bitrate estimate per WebRTC transport (bps). */
      initialAvailableOutgoingBitrate: z.number().int().min(100_000).default(1_000_000),
      /** Cap on incoming bitrate per send transport (bps); 0 = uncapped. */
      maxIncomingBitrate: z.number().int().min(0).default(5_000_000),
      /** Cap on the bandwidth estimate towards one viewer's transport (bps); 0 = uncapped. */
      maxOutgoingBitrate: z.number().int().min(0).default(0),
      /** Respawn backoff after a worker death: first delay and cap (ms). */
      respawnBackoffMs: z.number().int().min(0).default(200),
      /** Cap of the respawn backoff (ms). */
      respawnBackoffMaxMs: z.number().int().min(0).default(10_000),
      /** mediasoup WebRtcServer: all WebRTC transports of a worker share one UDP and one TCP port. */
      webRtcServer: z
        .strictObject({
          /** Off by default: each transport then takes its own port from rtcMinPort..rtcMaxPort. */
          enabled: z.boolean().default(false),
          /** First port: worker i listens on port + i (UDP and TCP, on every listen address); 0 = any free port in the RTC range. */
          port: port.default(7882),
        })
        .prefault({}),
    })
    .prefault({}),
  /** WebSocket signaling. */
  signaling: z
    .strictObject({
      /** Time a socket may stay open without a successful join (ms). */
      joinTimeoutMs: z.number().int().min(100).default(10_000),
      /** Requests per second per socket before RATE_LIMITED. */
      maxRequestsPerSecond: z.number().int().min(1).default(200),
      /** Invalid messages tolerated per socket before it is closed. */
      maxInvalidMessages: z.number().int().min(1).default(100),
    })
    .prefault({}),
  /** Built-in synthetic source: ffmpeg test pattern with a clock, published into a room. */
  synthetic: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Room the synthetic stream is published in (identity `synthetic`). */
      room: z.string().min(1).default('demo'),
      /** Frame width (px). */
      width: z.number().int().min(16).max(3840).default(640),
      /** Frame height (px). */
      height: z.number().int().min(16).max(2160).default(360),
      /** Frames per second. */
      fps: z.number().int().min(1).max(60).default(30),
      /** Video bitrate in kbps. */
      bitrateKbps: z.number().int().min(50).default(600),
    })
    .prefault({}),
  /** Webhooks: signed JSON events POSTed to endpoints, at least once, in order per room. */
  webhooks: z
    .strictObject({
      /** Receivers; each gets every event unless `events` filters them. */
      endpoints: z
        .array(
          z.strictObject({
            /** http(s) URL the events are POSTed to. */
            url: z.url({ protocol: /^https?$/ }),
            /** HMAC-SHA256 signing secret (at least 16 characters); default: webhooks.secret. */
            secret: z.string().min(16).optional(),
            /** Event types to send (`room.started`, or `room.*`, or `*`); default: all. */
            events: z
              .array(z.string().regex(/^(\*|[a-z]+\.(\*|[a-z_]+))$/))
              .min(1)
              .optional(),
          }),
        )
        .default([]),
      /** Signing secret for endpoints that have none of their own. */
      secret: z.string().default(''),
      /** Time one delivery attempt may take before it counts as failed (ms). */
      timeoutMs: z.number().int().min(100).default(5_000),
      /** Attempts per event before it is counted undeliverable and dropped. */
      maxAttempts: z.number().int().min(1).max(100).default(10),
      /** Retry backoff: first delay and cap (ms), doubled per attempt with jitter. */
      backoffMs: z.number().int().min(1).default(500),
      /** Cap of the retry backoff (ms). */
      backoffMaxMs: z.number().int().min(1).default(30_000),
      /** Events queued per endpoint before new ones are dropped (and counted). */
      maxQueuedEvents: z.number().int().min(1).default(10_000),
      /** Deliveries in flight per endpoint (different rooms proceed in parallel). */
      maxConcurrent: z.number().int().min(1).max(256).default(8),
    })
    .superRefine((w, ctx) => {
      w.endpoints.forEach((e, i) => {
        if (!e.secret && w.secret.length < 16) {
          ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'secret'], message: 'needs a secret of at least 16 characters (or set webhooks.secret)' });
        }
      });
    })
    .prefault({}),
  /** TURN (coturn REST API scheme): time-limited credentials handed out with tokens. */
  turn: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** ICE server URLs given to clients, e.g. `turn:turn.example.com:3478?transport=udp`, `turns:…:5349`. */
      urls: z.array(z.string().regex(/^(turns?|stuns?):[^\s]+$/, 'must be a turn:, turns: or stun: URL')).default([]),
      /** coturn's `static-auth-secret` (at least 16 characters). */
      secret: z.string().default(''),
      /** Lifetime of a TURN credential (s). */
      credentialTtlSeconds: z
        .number()
        .int()
        .min(60)
        .max(7 * 24 * 3600)
        .default(24 * 3600),
    })
    .superRefine((t, ctx) => {
      if (!t.enabled) return;
      if (t.urls.length === 0) ctx.addIssue({ code: 'custom', path: ['urls'], message: 'needs at least one URL when turn is enabled' });
      if (t.secret.length < 16) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'needs at least 16 characters when turn is enabled' });
    })
    .prefault({}),
  /** WHIP ingest (RFC 9725): `POST /whip/{room}/{stream}` publishes a WebRTC stream without the SDK. */
  whip: webrtcHttpSection(100),
  /** WHEP playback (IETF draft): `POST /whep/{room}/{stream}` watches a stream without the SDK. */
  whep: webrtcHttpSection(1000),
  /** SRT ingest: encoders call `srt://host:port` with stream id `#!::r=room/stream,m=publish,t=<token>`. */
  srt: z
    .strictObject({
      /** Off by default so test nodes bind no UDP port; config/default.yaml turns it on. */
      enabled: z.boolean().default(false),
      /** Address the SRT listener binds. */
      host: z.string().min(1).default('127.0.0.1'),
      /** UDP port of the SRT listener; 0 picks a free one (see the log or `node.srt.port`). */
      port: port.default(9710),
      /** SRT receive latency (ms); the larger of the caller's and this one applies. */
      latencyMs: z.number().int().min(20).max(8000).default(120),
      /** Encryption passphrase (10–79 characters); when set, callers must use it. */
      passphrase: z.string().min(10).max(79).optional(),
      /** Simultaneous SRT sessions; callers beyond it are refused. */
      maxSessions: z.number().int().min(1).max(1000).default(16),
      /** A session whose caller sends nothing for this long is dropped (ms). */
      idleTimeoutMs: z.number().int().min(500).default(5_000),
      /** Time from an accepted handshake to the first media before the session is dropped (ms). */
      probeTimeoutMs: z.number().int().min(500).default(8_000),
      /** Let a caller create its room; when false the room must already exist. */
      allowRoomCreation: z.boolean().default(true),
      /** Opus bitrate for the transcoded AAC audio (kbps). */
      audioBitrateKbps: z.number().int().min(16).max(510).default(96),
      /**
       * Run ffmpeg's H264 frame parser on the contribution: adds one frame interval of latency; only
       * for encoders that split an access unit over several PES packets or pack several in one.
       */
      frameParser: z.boolean().default(false),
    })
    .prefault({}),
  /** Contribution shared by every ingest protocol: primary and backup inputs of a stream (docs/backup-ingest.md). */
  ingest: ingestConfigSchema,
  /** RTMP ingest (docs/rtmp.md): encoders publish to `rtmp://host/<app>` with key `<room>/<stream>?token=<token>`. */
  rtmp: z
    .strictObject({
      /** Off by default so test nodes bind no extra port; config/default.yaml turns it on. */
      enabled: z.boolean().default(false),
      /** Address the RTMP listener binds. */
      host: z.string().min(1).default('127.0.0.1'),
      /** TCP port of the RTMP listener; 0 picks a free one (`node.rtmp.port`). */
      port: port.default(1935),
      /** The application name encoders connect to (`rtmp://host/<app>`). */
      app: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/)
        .default('live'),
      /** RTMPS: a TLS listener with the operator's certificate (PEM files). */
      tls: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** TCP port of the RTMPS listener; 0 picks a free one (`node.rtmp.tlsPort`). */
          port: port.default(1936),
          /** Certificate chain (PEM). */
          certFile: z.string().default(''),
          /** Private key (PEM). */
          keyFile: z.string().default(''),
        })
        .prefault({}),
      /** Simultaneous publishers; more are refused. */
      maxSessions: z.number().int().min(1).max(10_000).default(64),
      /** Simultaneous TCP connections (publishing or not); more are closed at once. */
      maxConnections: z.number().int().min(1).max(100_000).default(256),
      /** Time from TCP accept to `publish` before the connection is closed (ms). */
      publishTimeoutMs: z.number().int().min(500).default(10_000),
      /** A publisher that sends nothing for this long is dropped (ms). */
      idleTimeoutMs: z.number().int().min(500).default(5_000),
      /** Time from `publish` to media ffmpeg can use before the publisher is dropped (ms). */
      probeTimeoutMs: z.number().int().min(500).default(8_000),
      /** Largest RTMP message accepted (bytes); a larger one ends the connection. */
      maxMessageBytes: z.number().int().min(65_536).max(16_777_215).default(8_388_608),
      /** Let a publisher create its room; when false the room must already exist. */
      allowRoomCreation: z.boolean().default(true),
      /** Opus bitrate of the transcoded audio (kbps). */
      audioBitrateKbps: z.number().int().min(16).max(510).default(96),
    })
    .superRefine((r, ctx) => {
      if (r.tls.enabled && (!r.tls.certFile || !r.tls.keyFile))
        ctx.addIssue({ code: 'custom', path: ['tls'], message: 'needs certFile and keyFile when enabled' });
    })
    .prefault({}),
  /** RTSP pulls (docs/rtsp.md): the node pulls `rtsp://` cameras into rooms; also `POST /v1/ingest/rtsp`. */
  rtsp: z
    .strictObject({
      /** Off by default (no pulls, no `/v1/ingest/rtsp` routes); config/default.yaml turns it on. */
      enabled: z.boolean().default(false),
      /** Pulls started with the node (more can be added through the API). */
      sources: z.array(rtspSourceSchema).default([]),
      /** Simultaneous pulls; more are refused (409). */
      maxPulls: z.number().int().min(1).max(100_000).default(2000),
      /** First retry delay after a camera fails (ms); doubles per failure up to `reconnectMaxMs`. */
      reconnectMinMs: z.number().int().min(100).default(1_000),
      /** Longest retry delay (ms). */
      reconnectMaxMs: z.number().int().min(100).default(30_000),
      /** A camera that sends nothing for this long is dropped and retried (ms). */
      ioTimeoutMs: z.number().int().min(500).default(5_000),
      /** Time from connecting to the first media before the attempt fails (ms). */
      probeTimeoutMs: z.number().int().min(500).default(10_000),
      /** Opus bitrate of the transcoded audio (kbps). */
      audioBitrateKbps: z.number().int().min(16).max(510).default(64),
    })
    .prefault({}),
  /** MPEG-TS over UDP (docs/mpegts.md): one listener per port, each publishing one room/stream. */
  mpegts: z
    .strictObject({
      /** Off by default; listeners only bind when enabled. */
      enabled: z.boolean().default(false),
      /** The listeners. */
      listeners: z
        .array(
          z.strictObject({
            /** Address to bind (0.0.0.0 for senders on other hosts). */
            host: z.string().min(1).default('127.0.0.1'),
            /** UDP port; 0 picks a free one (`node.mpegts.listeners[i].port`). */
            port,
            /** Join this multicast group (e.g. 239.1.1.1) on the port. */
            multicastGroup: z.string().optional(),
            /** Local interface address for the multicast join (default: the system's choice). */
            multicastInterface: z.string().optional(),
            /** Room the stream is published into. */
            room: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
            /** Stream name (the feed's identity). */
            stream: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/),
            /** The sender's role when the stream has primary and backup inputs (docs/backup-ingest.md); none = a single-input stream. */
            role: z.enum(['primary', 'backup']).optional(),
          }),
        )
        .default([]),
      /** A stream whose sender is silent this long ends; the next datagram starts it again (ms). */
      idleTimeoutMs: z.number().int().min(500).default(3_000),
      /** Time from the first datagram to usable media before the stream ends (ms). */
      probeTimeoutMs: z.number().int().min(500).default(8_000),
      /** After a stream ffmpeg could not use, datagrams are dropped this long before a new try (ms). */
      retryAfterMs: z.number().int().min(0).default(2_000),
      /** Opus bitrate of the transcoded audio (kbps). */
      audioBitrateKbps: z.number().int().min(16).max(510).default(96),
    })
    .prefault({}),
  /** Media over QUIC: the relay (relay/) and the SFU → MoQ bridge (src/moq). See docs/moq.md. */
  moq: z
    .strictObject({
      /** Off by default so test nodes bind no extra ports; config/default.yaml turns it on. */
      enabled: z.boolean().default(false),
      /** The relay's listeners and limits (the same section the standalone `relay/main.ts` reads). */
      relay: relayConfigSchema.prefault({}),
      /** Offer every SFU stream as a broadcast at `<prefix>/<room>/<identity>`. */
      bridge: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Path prefix of bridged broadcasts ('' = `<room>/<identity>`). */
          prefix: z.string().default(''),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Low-Latency HLS output for CDN-scale viewing (src/hls, docs/ll-hls.md): `/hls/{room}/{stream}/index.m3u8`. */
  hls: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** `on-demand`: a stream is transcoded from its first HLS request until idle; `eager`: every stream with video, always. */
      mode: z.enum(['on-demand', 'eager']).default('on-demand'),
      /** `public`: no credentials (put a CDN's signed URLs in front); `token`: `?token=<jwt>` with canSubscribe for the room. */
      access: z.enum(['public', 'token']).default('public'),
      /** Part target duration (ms); parts never exceed it except across a source gap. */
      partTargetMs: z.number().int().min(100).max(1000).default(200),
      /** Segment target (ms): segments are cut at the first source keyframe at or after it. */
      segmentTargetMs: z.number().int().min(1000).max(10_000).default(2000),
      /** Media kept and listed per rendition (s). */
      dvrWindowSec: z.number().int().min(6).max(3600).default(60),
      /** An on-demand stream with no HLS request for this long stops transcoding (ms). */
      idleTimeoutMs: z.number().int().min(1000).default(30_000),
      /** How long the first request waits for the first segment before 503 (ms). */
      startupTimeoutMs: z.number().int().min(1000).default(15_000),
      /** Streams transcoded at once on this node; more get 503. */
      maxStreams: z.number().int().min(1).default(4),
      /** Keyframe requests to the publisher, so segments can be cut on time (ms; default: the segment target). */
      keyframeRequestIntervalMs: z.number().int().min(250).optional(),
      /** AAC bitrate of every rendition (kbps). */
      audioKbps: z.number().int().min(16).max(320).default(64),
      /** x264 preset of encoded renditions (`ultrafast` keeps a 2-core box cool). */
      x264Preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('ultrafast'),
      /** The ladder: `copySource` renditions pass H264 through; others are encoded at `height` (default: source height). */
      renditions: z
        .array(
          z.strictObject({
            /** Path segment of the rendition: lower-case letters, digits, `-`, `_`. */
            name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
            /** Pass the source H264 through instead of encoding (needs an H264 publisher). */
            copySource: z.boolean().default(false),
            /** Encoded height (px; never above the source's; width keeps the aspect ratio); default: the source height. */
            height: z.number().int().min(32).max(4320).optional(),
            /** Video bitrate (kbps) when encoded; BANDWIDTH estimate before measurement when copied. */
            videoKbps: z.number().int().min(50).max(50_000),
          }),
        )
        .min(1)
        .max(6)
        .refine((r) => new Set(r.map((x) => x.name)).size === r.length, 'rendition names must be unique')
        .refine((r) => r.every((x) => x.name !== 'audio'), 'the rendition name "audio" is reserved for the audio rendition')
        .default([
          { name: 'source', copySource: true, videoKbps: 1500 },
          { name: 'mid', copySource: false, height: 240, videoKbps: 400 },
          { name: 'low', copySource: false, height: 160, videoKbps: 180 },
        ]),
      /** Write every packaged stream's segments to disk and a VOD playlist when it ends. */
      recording: z
        .strictObject({
          enabled: z.boolean().default(false),
          /** Directory of recordings (`<dir>/<room>/<stream>/<startedAt>/<rendition>/…`). */
          dir: z.string().min(1).default('recordings/hls'),
        })
        .prefault({}),
      /** The ABR ladder shaped by its audience (docs/abr-ladder.md): rungs dropped, added, lowered and restored from viewers' CMCD; off by default. */
      ladderAdaptation: ladderAdaptationConfigSchema,
      /** CTA-5006 Common Media Server Data response headers on every playlist, init, part and segment (docs/ll-hls.md). */
      cmsd: z
        .strictObject({
          /** Send CMSD headers on HLS responses: `CMSD-Static` (object type, format, stream type, duration, availability, bitrate, held time); `false`: none. */
          enabled: z.boolean().default(true),
          /** Also send `CMSD-Dynamic` (this origin's identifier with `rd`, the response delay in ms). */
          dynamic: z.boolean().default(true),
          /** Intermediary identifier in `CMSD-Dynamic` (printable ASCII); default: `node.id`. */
          id: z
            .string()
            .regex(/^[\x20-\x7e]{1,128}$/, 'printable ASCII, 1-128 characters')
            .optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  /** LL-DASH manifests of the LL-HLS packager's CMAF (src/dash, docs/ll-dash.md): `/dash/{room}/{stream}/manifest.mpd`. */
  dash: dashConfigSchema,
  /** RTMP(S) push of streams to other platforms (src/restream, docs/restream.md): `/v1/rooms/{room}/streams/{stream}/restreams`. */
  restream: restreamConfigSchema,
  /** Shared Redis (cascade, Redis-backed events and bans): URL, Sentinel or Cluster, key prefix, timeouts. See src/redis/redisConfig.ts. */
  redis: redisConfigSchema,
  /** Multi-node cascade: coordinator, heartbeats, leases, pipes between nodes. See docs/cascade.md. */
  cascade: cascadeConfigSchema,
  /** Room events: ordered, durable, idempotent; memory or Redis Streams. See docs/events.md and src/events/eventsConfig.ts. */
  events: eventsConfigSchema,
  /** Viewer QoE: SDK reports and CMCD mapped to startup, rebuffering, bitrate, latency, failures; dashboard at /qoe/; alerts. See docs/qoe.md and src/qoe/qoeConfig.ts. */
  qoe: qoeConfigSchema,
  /** Bans: a kicked identity stays out of the room until its token expires, on every node (Redis in a cascade). See docs/api.md. */
  bans: bansConfigSchema,
  /** Graceful drain on SIGTERM: how long clients get before sockets close (ms). */
  drainTimeoutMs: z.number().int().min(0).default(10_000),
  /** Log level of the node. */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

/** The validated, defaulted configuration of a node. */
export type Config = z.infer<typeof configSchema>;
/** What a user may write: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
