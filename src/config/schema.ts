/**
 * The node's configuration tree: one zod schema, strict at every level so unknown keys are
 * rejected, with defaults so an empty file yields a working single node.
 */
import { z } from 'zod';
import os from 'node:os';

const port = z.number().int().min(0).max(65535);

/** A listen address for RTC transports: bind `ip`, advertise `announcedAddress` to clients. */
const listenAddress = z.strictObject({
  /** Local IP to bind. */
  ip: z.string().min(1),
  /** Public IP or hostname announced in ICE candidates (default: the bound ip). */
  announcedAddress: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  /** Identity of this node in logs, metrics and the cascade registry (default: hostname). */
  node: z
    .strictObject({
      id: z.string().min(1).default(() => os.hostname()),
      region: z.string().min(1).default('local'),
    })
    .prefault({}),
  /** HTTP + WebSocket server (uWebSockets.js). */
  http: z
    .strictObject({
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
      tokenTtlSeconds: z.number().int().min(10).max(7 * 24 * 3600).default(6 * 3600),
      /** Issue tokens without credentials at `GET /demo/token` (only for local demos). */
      demoTokens: z.boolean().default(true),
    })
    .prefault({}),
  /** mediasoup SFU. */
  sfu: z
    .strictObject({
      /** Number of mediasoup workers; 0 means one per CPU core. */
      workers: z.number().int().min(0).max(256).default(0),
      /** Worker log level. */
      logLevel: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
      /** UDP/TCP port range for RTC transports. */
      rtcMinPort: port.default(40000),
      rtcMaxPort: port.default(49999),
      /** Addresses RTC transports listen on. */
      listenAddresses: z.array(listenAddress).min(1).default([{ ip: '127.0.0.1' }]),
      /** Consumers a router may hold before new peers of its room spill to another worker. */
      consumersPerRouter: z.number().int().min(1).default(500),
      /** Initial outgoing bitrate estimate per WebRTC transport (bps). */
      initialAvailableOutgoingBitrate: z.number().int().min(100_000).default(1_000_000),
      /** Cap on incoming bitrate per send transport (bps); 0 = uncapped. */
      maxIncomingBitrate: z.number().int().min(0).default(5_000_000),
      /** Respawn backoff after a worker death: first delay and cap (ms). */
      respawnBackoffMs: z.number().int().min(0).default(200),
      respawnBackoffMaxMs: z.number().int().min(0).default(10_000),
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
      room: z.string().min(1).default('demo'),
      width: z.number().int().min(16).max(3840).default(640),
      height: z.number().int().min(16).max(2160).default(360),
      fps: z.number().int().min(1).max(60).default(30),
      /** Video bitrate in kbps. */
      bitrateKbps: z.number().int().min(50).default(600),
    })
    .prefault({}),
  /** Graceful drain on SIGTERM: how long clients get before sockets close (ms). */
  drainTimeoutMs: z.number().int().min(0).default(10_000),
  /** Log level of the node. */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

/** The validated, defaulted configuration of a node. */
export type Config = z.infer<typeof configSchema>;
/** What a user may write: every key optional. */
export type ConfigInput = z.input<typeof configSchema>;
