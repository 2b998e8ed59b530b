/**
 * The relay's configuration section (strict, with defaults). Embedded in the node's config
 * as `moq.relay`; the standalone relay (`relay/main.ts`) reads the same section.
 */
import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

/** A static route: broadcasts under `prefix` are pulled from the relay at `url`. */
const staticRoute = z.strictObject({
  /** Path prefix ('' = everything). */
  prefix: z.string(),
  /** Upstream relay base URL (http://host:port of its WebSocket listener). */
  url: z.string().url(),
});

/** Relay settings. */
export const relayConfigSchema = z.strictObject({
  /** Address the relay's listeners bind. */
  host: z.string().min(1).default('127.0.0.1'),
  /** WebSocket (QMux) listener port; 0 picks a free one. Also serves `/certificate.sha256`. */
  port: port.default(4443),
  /** URL other relays use to reach this one (default: http://host:port). */
  publicUrl: z.string().url().optional(),
  /** WebTransport over HTTP/3 (QUIC, UDP) listener: what browsers use. */
  http3: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** UDP port; default: the same number as the WebSocket listener's TCP port, so one `http://host:port` URL reaches both. 0 picks a free one. */
      port: port.optional(),
      /** PEM certificate file; when unset the relay makes a self-signed ECDSA P-256 certificate and rotates it before expiry. */
      certFile: z.string().min(1).optional(),
      /** PEM private key of `certFile`. */
      keyFile: z.string().min(1).optional(),
      /** Validity of the self-generated certificate (days; browsers accept ≤ 14 through `serverCertificateHashes`). */
      certificateValidityDays: z.number().int().min(1).max(14).default(10),
      /** A self-generated certificate is replaced this many hours before it expires. */
      rotateBeforeHours: z.number().min(0.001).default(72),
      /** Validate client addresses with a stateless Retry before keeping any state (costs one round trip). */
      retry: z.boolean().default(true),
      /**
       * A peer silent this long is gone and its connection closed (ms); both ends then notice a vanished
       * peer within it. Quiet connections are pinged at a third of it, so only a vanished peer goes silent.
       */
      idleTimeoutMs: z.number().int().min(1000).default(10_000),
      /** QUIC connections in total. */
      maxConnections: z.number().int().min(1).default(10_000),
      /** QUIC connections from one IP address. */
      maxConnectionsPerAddress: z.number().int().min(1).default(1000),
      /** Streams of each direction one connection may have open at once. */
      maxStreamsPerConnection: z.number().int().min(8).default(256),
    })
    .prefault({}),
  /** WebTransport over HTTP/2 (TLS) listener (Node peers only; no browser speaks it). */
  webtransport: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** TCP port; 0 picks a free one. */
      port: port.default(4444),
      /** PEM certificate/key files; when unset a self-signed ECDSA certificate (10 days) is made with `openssl`. */
      certFile: z.string().min(1).optional(),
      /** PEM private key of `certFile`. */
      keyFile: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Require a valid JWT (`?jwt=` on the URL) at session set-up. */
  requireAuth: z.boolean().default(true),
  /** Groups cached per track for late joiners (≥ 1). */
  cacheGroups: z.number().int().min(1).max(64).default(2),
  /** A group still being sent this long after a newer group of its track started is dropped (ms). */
  staleGroupMs: z.number().int().min(0).default(300),
  /** How long an unused upstream track subscription is kept open (ms). */
  upstreamLingerMs: z.number().int().min(0).default(2000),
  /** Largest control message accepted (bytes); bigger is a protocol violation. */
  maxMessageBytes: z
    .number()
    .int()
    .min(256)
    .default(64 * 1024),
  /** Largest frame accepted (bytes); bigger resets the group stream with FRAME_TOO_LARGE. */
  maxFrameBytes: z
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  /** Largest group kept in memory (bytes). */
  maxGroupBytes: z
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
  /** Concurrent subscriptions one session may hold. */
  maxSubscriptionsPerSession: z.number().int().min(1).default(1000),
  /** Concurrent sessions. */
  maxSessions: z.number().int().min(1).default(10_000),
  /** Time a peer has to answer a request, and to start a session without a negotiated version (ms). */
  requestTimeoutMs: z.number().int().min(100).default(10_000),
  /**
   * How this relay dials upstream relays: 'auto' tries WebTransport over HTTP/3 (QUIC, the
   * upstream's certificate hash fetched from its `/certificate.sha256`) and falls back to
   * WebSocket; 'quic' or 'websocket' uses only that one.
   */
  upstreamTransport: z.enum(['auto', 'quic', 'websocket']).default('auto'),
  /** Static upstream routes for chaining without a cascade coordinator. */
  upstreams: z.array(staticRoute).default([]),
});

/** Validated relay settings. */
export type RelayConfig = z.infer<typeof relayConfigSchema>;
/** Relay settings as written (every key optional). */
export type RelayConfigInput = z.input<typeof relayConfigSchema>;
