/**
 * Prometheus metrics of viewer QoE (`subsec_qoe_*`), per stream (`room`, `stream`) and delivery
 * path. Cardinality is bounded by construction: stream labels come from {@link StreamLabels},
 * reasons and renditions from {@link BoundedValues}, and a stream's series are removed when its
 * label is evicted. No label names a viewer.
 */
import client from 'prom-client';
import { QOE_PATHS, type QoePath } from '../protocol/signaling';
import type { QoeSample } from './QoeSeries';
import type { StreamLabel } from './StreamLabels';

type StreamPath = 'room' | 'stream' | 'path';

/** The QoE metric families and the calls that feed them. */
export class QoeMetrics {
  readonly sessions: client.Counter<StreamPath>;
  readonly failures: client.Counter<StreamPath | 'reason'>;
  readonly noFirstFrame: client.Counter<StreamPath>;
  readonly startup: client.Histogram<StreamPath>;
  readonly watchSeconds: client.Counter<StreamPath>;
  readonly rebufferSeconds: client.Counter<StreamPath>;
  readonly rebufferEvents: client.Counter<StreamPath>;
  readonly mediaBytes: client.Counter<StreamPath>;
  readonly latency: client.Histogram<StreamPath>;
  readonly activeSessions: client.Gauge<StreamPath | 'rendition'>;
  readonly windowFigure: client.Gauge<StreamPath | 'figure'>;
  readonly reports: client.Counter<'outcome'>;
  readonly ignoredSessions: client.Counter<'reason'>;
  readonly transportFailures: client.Counter<'kind' | 'direction'>;
  readonly serverFirstFrame: client.Histogram<'room' | 'stream'>;
  readonly serverNoFirstFrame: client.Counter<'room' | 'stream'>;
  readonly layerChanges: client.Counter<'room' | 'stream' | 'direction'>;
  readonly consumerScore: client.Gauge<'room' | 'stream'>;
  readonly ingestBitrate: client.Gauge<'room' | 'stream' | 'kind'>;
  readonly ingestFrameRate: client.Gauge<'room' | 'stream'>;
  readonly ingestKeyframeInterval: client.Gauge<'room' | 'stream'>;
  readonly ingestLoss: client.Gauge<'room' | 'stream' | 'kind'>;
  readonly alertsFiring: client.Gauge<'figure'>;
  readonly alertsFired: client.Counter<'figure'>;
  /** Failure reasons used per stream key, to remove their series with the stream. */
  readonly #reasonsOf = new Map<string, Set<string>>();

  constructor(registry: client.Registry) {
    const registers = [registry];
    const labelNames = ['room', 'stream', 'path'] as const;
    const rs = ['room', 'stream'] as const;
    this.sessions = new client.Counter({
      name: 'subsec_qoe_sessions_total',
      help: 'Playback sessions started (first report), by stream and delivery path',
      labelNames,
      registers,
    });
    this.failures = new client.Counter({
      name: 'subsec_qoe_session_failures_total',
      help: 'Playback sessions that ended in an error, by reason',
      labelNames: [...labelNames, 'reason'],
      registers,
    });
    this.noFirstFrame = new client.Counter({
      name: 'subsec_qoe_sessions_no_first_frame_total',
      help: 'Playback sessions that ended (or failed, or went silent) before their first frame',
      labelNames,
      registers,
    });
    this.startup = new client.Histogram({
      name: 'subsec_qoe_startup_seconds',
      help: 'Time from the start of playback to the first frame',
      labelNames,
      registers,
      buckets: [0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30],
    });
    this.watchSeconds = new client.Counter({
      name: 'subsec_qoe_watch_seconds_total',
      help: 'Time viewers spent playing or stalled (paused time excluded)',
      labelNames,
      registers,
    });
    this.rebufferSeconds = new client.Counter({
      name: 'subsec_qoe_rebuffer_seconds_total',
      help: 'Time viewers spent stalled; rebuffer ratio = rate(this) / rate(watch_seconds)',
      labelNames,
      registers,
    });
    this.rebufferEvents = new client.Counter({ name: 'subsec_qoe_rebuffer_events_total', help: 'Stalls (rebuffering, freezes)', labelNames, registers });
    this.mediaBytes = new client.Counter({
      name: 'subsec_qoe_media_bytes_total',
      help: 'Media bytes viewers received; average bitrate = 8 * rate(this) / rate(watch_seconds)',
      labelNames,
      registers,
    });
    this.latency = new client.Histogram({
      name: 'subsec_qoe_latency_seconds',
      help: 'End-to-end latency reported by viewers',
      labelNames,
      registers,
      buckets: [0.1, 0.2, 0.3, 0.5, 1, 2, 3, 5, 10, 30],
    });
    this.activeSessions = new client.Gauge({
      name: 'subsec_qoe_active_sessions',
      help: 'Playback sessions reporting now, by path and rendition',
      labelNames: [...labelNames, 'rendition'],
      registers,
    });
    this.windowFigure = new client.Gauge({
      name: 'subsec_qoe_window_value',
      help: 'A QoE figure over the trailing window (qoe.windowSeconds), as the dashboard plots it',
      labelNames: [...labelNames, 'figure'],
      registers,
    });
    this.reports = new client.Counter({
      name: 'subsec_qoe_reports_total',
      help: 'reportQoe batches by outcome (accepted, rate_limited, disabled)',
      labelNames: ['outcome'],
      registers,
    });
    this.ignoredSessions = new client.Counter({
      name: 'subsec_qoe_sessions_ignored_total',
      help: 'Session entries of reports ignored, by reason (unknown_stream, viewer_limit, node_limit, mismatch)',
      labelNames: ['reason'],
      registers,
    });
    this.transportFailures = new client.Counter({
      name: 'subsec_qoe_transport_failures_total',
      help: 'WebRTC transports that failed: ice_disconnected, dtls_failed, never_connected (closed with media but no DTLS)',
      labelNames: ['kind', 'direction'],
      registers,
    });
    this.serverFirstFrame = new client.Histogram({
      name: 'subsec_qoe_server_first_frame_seconds',
      help: 'WebRTC video consumers: creation to the first key frame sent',
      labelNames: rs,
      registers,
      buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
    });
    this.serverNoFirstFrame = new client.Counter({
      name: 'subsec_qoe_server_no_first_frame_total',
      help: 'WebRTC video consumers closed before a key frame was sent',
      labelNames: rs,
      registers,
    });
    this.layerChanges = new client.Counter({
      name: 'subsec_qoe_consumer_layer_changes_total',
      help: 'Spatial layer switches of consumers (up, down)',
      labelNames: [...rs, 'direction'],
      registers,
    });
    this.consumerScore = new client.Gauge({
      name: 'subsec_qoe_consumer_score',
      help: "Mean transmission score (0-10) of a stream's live video consumers",
      labelNames: rs,
      registers,
    });
    this.ingestBitrate = new client.Gauge({
      name: 'subsec_qoe_ingest_bitrate_kbps',
      help: 'Incoming bitrate of a contribution, by kind',
      labelNames: [...rs, 'kind'],
      registers,
    });
    this.ingestFrameRate = new client.Gauge({
      name: 'subsec_qoe_ingest_frame_rate',
      help: "Frames per second arriving on a contribution's video (highest layer)",
      labelNames: rs,
      registers,
    });
    this.ingestKeyframeInterval = new client.Gauge({
      name: 'subsec_qoe_ingest_keyframe_interval_seconds',
      help: "Time between the last two key frames of a contribution's video",
      labelNames: rs,
      registers,
    });
    this.ingestLoss = new client.Gauge({
      name: 'subsec_qoe_ingest_loss_ratio',
      help: 'Packets lost / expected on a contribution over the last sample, by kind',
      labelNames: [...rs, 'kind'],
      registers,
    });
    this.alertsFiring = new client.Gauge({ name: 'subsec_qoe_alerts_firing', help: 'QoE alerts firing now, by figure', labelNames: ['figure'], registers });
    this.alertsFired = new client.Counter({ name: 'subsec_qoe_alerts_fired_total', help: 'QoE alerts fired, by figure', labelNames: ['figure'], registers });
  }

  /** Records one sample of a stream's path. */
  sample(label: StreamLabel, path: QoePath, s: QoeSample, failureReason?: string): void {
    const l = { room: label.room, stream: label.stream, path };
    if (s.started) this.sessions.inc(l);
    if (s.watchMs > 0) this.watchSeconds.inc(l, s.watchMs / 1000);
    if (s.stallMs > 0) this.rebufferSeconds.inc(l, s.stallMs / 1000);
    if (s.stalls > 0) this.rebufferEvents.inc(l, s.stalls);
    if (s.bytes > 0) this.mediaBytes.inc(l, s.bytes);
    if (s.startupMs !== undefined) this.startup.observe(l, s.startupMs / 1000);
    if (s.latencyMs !== undefined) this.latency.observe(l, s.latencyMs / 1000);
    if (s.failed) {
      const reason = failureReason ?? 'unknown';
      let reasons = this.#reasonsOf.get(label.key);
      if (!reasons) this.#reasonsOf.set(label.key, (reasons = new Set()));
      reasons.add(reason);
      this.failures.inc({ ...l, reason });
    }
  }

  /** Removes every series of an evicted stream label. */
  removeStream(label: StreamLabel): void {
    const rs = { room: label.room, stream: label.stream };
    for (const path of QOE_PATHS) {
      const l = { ...rs, path };
      for (const m of [
        this.sessions,
        this.noFirstFrame,
        this.startup,
        this.watchSeconds,
        this.rebufferSeconds,
        this.rebufferEvents,
        this.mediaBytes,
        this.latency,
      ])
        m.remove(l);
      for (const reason of this.#reasonsOf.get(label.key) ?? []) this.failures.remove({ ...l, reason });
    }
    this.#reasonsOf.delete(label.key);
    this.serverFirstFrame.remove(rs);
    this.serverNoFirstFrame.remove(rs);
    for (const direction of ['up', 'down']) this.layerChanges.remove({ ...rs, direction });
  }
}
