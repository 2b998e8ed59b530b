/**
 * Viewer Quality of Experience on this node (docs/qoe.md): the five figures — startup time,
 * rebuffer ratio, average bitrate, end-to-end latency, failure rate — per stream and delivery
 * path, from SDK reports (`reportQoe` on the signaling socket) and CMCD of LL-HLS players; the
 * server-side figures (transport failures, consumers without a first frame, scores, layer
 * changes) and ingest health of every contribution; Prometheus metrics with bounded labels;
 * per-second plots for the dashboard; threshold alerts sent as webhooks.
 */
import type client from 'prom-client';
import type { Logger } from '../core/logger';
import type { CmcdData, CmcdTarget } from '../hls/CmcdIntake';
import type { QoePath, RequestParams, ResponseData } from '../protocol/signaling';
import type { RoomManager } from '../sfu/RoomManager';
import type { WorkerPool } from '../sfu/WorkerPool';
import type { WebhookEmitter } from '../webhooks/events';
import { AlertEngine, type AlertInput, type QoeAlert } from './AlertEngine';
import { CmcdQoeMapper } from './CmcdQoeMapper';
import { IngestMonitor, type IngestFigures } from './IngestMonitor';
import { PlaybackSessions, type PlaybackSession } from './PlaybackSessions';
import { PointRing } from './PointRing';
import type { QoeConfig, QoeFigure } from './qoeConfig';
import { QoeIntake, type QoeIntakeContext, type QoeReporter } from './QoeIntake';
import { QoeMetrics } from './QoeMetrics';
import { POINT_COLUMNS, QoeSeries, type QoeFigures, type QoeSample } from './QoeSeries';
import { ServerQoeObserver, type ServerStreamFigures } from './ServerQoeObserver';
import { BoundedValues, OTHER_STREAM, StreamLabels, type StreamLabel } from './StreamLabels';

/** Columns of an ingest point, in the order the dashboard API sends them. */
export const INGEST_COLUMNS = ['t', 'bitrateKbps', 'frameRate', 'keyframeIntervalMs', 'lossRatio'] as const;

/** What the signaling layer calls for a `reportQoe` request. */
export interface QoeReportSink {
  report(from: QoeReporter, params: RequestParams<'reportQoe'>, nowMs?: number): ResponseData['reportQoe'];
}

/** One path of a stream in a {@link QoeSnapshot}. */
export interface QoePathView {
  viewers: number;
  /** Viewers by rendition now. */
  renditions: Record<string, number>;
  figures: QoeFigures;
  /** Plotted points newer than `since`, columns as in `columns`. */
  points: Array<Array<number | null>>;
}

/** One stream in a {@link QoeSnapshot}. */
export interface QoeStreamView {
  key: string;
  room: string;
  stream: string;
  viewers: number;
  paths: Partial<Record<QoePath, QoePathView>>;
  ingest: { figures: IngestFigures; points: Array<Array<number | null>> } | null;
  server: ServerStreamFigures;
}

/** What `GET /v1/qoe` answers and the dashboard draws. */
export interface QoeSnapshot {
  /** Node time of the snapshot (ms); ask again with `since` = its unix second for new points only. */
  now: number;
  windowSeconds: number;
  sessionWindowSeconds: number;
  historySeconds: number;
  columns: readonly string[];
  ingestColumns: readonly string[];
  totals: { viewers: Record<QoePath, number>; sessions: number; streams: number; transportFailures: Record<string, number> };
  streams: QoeStreamView[];
  alerts: { rules: QoeConfig['alerts']; active: QoeAlert[]; recent: QoeAlert[] };
}

/** Sessions by stream key, path and rendition. */
type ViewerCounts = Map<string, { total: number; paths: Map<QoePath, { n: number; renditions: Map<string, number> }> }>;

/** Dependencies of {@link QoeService}. */
export interface QoeServiceDeps {
  config: QoeConfig;
  rooms: RoomManager;
  pool: WorkerPool;
  registry: client.Registry;
  webhooks: WebhookEmitter;
  log: Logger;
}

/** The QoE hub of a node. Create before `pool.start()` (it observes workers from their creation). */
export class QoeService implements QoeReportSink {
  readonly config: QoeConfig;
  readonly metrics: QoeMetrics;
  readonly labels: StreamLabels;
  readonly sessions: PlaybackSessions;
  readonly alerts: AlertEngine;
  readonly #deps: QoeServiceDeps;
  readonly #intake: QoeIntake;
  readonly #cmcd: CmcdQoeMapper;
  readonly #server: ServerQoeObserver;
  readonly #ingest: IngestMonitor;
  /** Stream key → path → series. */
  readonly #series = new Map<string, { label: StreamLabel; paths: Map<QoePath, QoeSeries> }>();
  readonly #ingestPoints = new Map<string, PointRing>();
  readonly #renditions = new Map<string, BoundedValues>();
  readonly #reasons = new BoundedValues(32);
  /** Viewers by stream key and path at the last tick, and by rendition. */
  #viewers: ViewerCounts = new Map();
  #ingestFigures = new Map<string, { label: StreamLabel; figures: IngestFigures }>();
  readonly #timer: NodeJS.Timeout;
  #ticks = 0;
  #closed = false;

  constructor(deps: QoeServiceDeps) {
    this.#deps = deps;
    const config = (this.config = deps.config);
    this.metrics = new QoeMetrics(deps.registry);
    this.labels = new StreamLabels(config.maxStreams);
    this.sessions = new PlaybackSessions(config.maxSessions, config.maxSessionsPerViewer);
    const ctx: QoeIntakeContext = {
      sessions: this.sessions,
      knownStream: (room, stream) => (deps.rooms.get(room)?.producersOf(stream).length ?? 0) > 0 || this.labels.get(room, stream) !== undefined,
      label: (room, stream, nowMs) => this.labels.label(room, stream, nowMs),
      rendition: (label, rendition) => this.#renditionsOf(label.key).map(rendition),
      record: (session, sample, nowMs, end) => this.#record(session, sample, nowMs, end),
      ignored: (reason) => this.metrics.ignoredSessions.inc({ reason }),
      reportOutcome: (outcome) => this.metrics.reports.inc({ outcome }),
    };
    this.#intake = new QoeIntake(config, ctx);
    this.#cmcd = new CmcdQoeMapper(ctx);
    this.#ingest = new IngestMonitor({
      rooms: deps.rooms,
      label: (room, stream) => this.labels.label(room, stream, Date.now()),
      sampleIntervalMs: config.ingestSampleIntervalMs,
      frameRateEvery: config.frameRateEvery,
      log: deps.log,
    });
    this.#server = new ServerQoeObserver({ pool: deps.pool, metrics: this.metrics, labelOf: (id) => this.#ingest.labelOf(id), log: deps.log });
    this.alerts = new AlertEngine(config.alerts, {
      fired: (alert) => this.#announce('qoe.alert_fired', alert),
      resolved: (alert) => this.#announce('qoe.alert_resolved', alert),
    });
    this.#timer = setInterval(() => this.tick(), 1000);
    this.#timer.unref();
  }

  /** Handles a `reportQoe` batch from an SDK viewer. @throws RATE_LIMITED. */
  report(from: QoeReporter, params: RequestParams<'reportQoe'>, nowMs = Date.now()): ResponseData['reportQoe'] {
    return this.#intake.report(from, params, nowMs);
  }

  /** Counts the CMCD of one LL-HLS request (called by the HLS routes' CMCD intake). */
  recordCmcd(target: CmcdTarget, data: CmcdData, nowMs = Date.now()): void {
    if (!this.#closed) this.#cmcd.record(target, data, nowMs);
  }

  /** Advances one second: expires silent sessions, computes the figures, plots, alerts. Runs on its own timer. */
  tick(nowMs = Date.now()): void {
    if (this.#closed) return;
    this.#ticks++;
    for (const s of this.sessions.expire(nowMs, this.config.sessionTtlMs)) {
      this.#record(s, { watchMs: 0, stallMs: 0, stalls: 0, bytes: 0 }, nowMs, { failed: false });
    }
    if (this.#ticks % 10 === 0) this.#intake.sweep(nowMs);
    this.#countViewers(nowMs);
    const inputs: AlertInput[] = [];
    const figureGauge = this.metrics.windowFigure;
    figureGauge.reset();
    for (const { label, paths } of this.#series.values()) {
      for (const [path, series] of paths) {
        const viewers = this.#viewers.get(label.key)?.paths.get(path)?.n ?? 0;
        const figures = series.tick(nowMs, viewers);
        const sessions = Math.max(series.windowSessions, viewers);
        for (const [figure, value] of Object.entries(figures) as Array<[keyof QoeFigures, number | null]>) {
          if (value !== null) figureGauge.set({ room: label.room, stream: label.stream, path, figure }, value);
          inputs.push({ label, path, figure, value, sessions });
        }
      }
    }
    this.#tickIngest(nowMs, inputs);
    this.#server.updateGauges(this.labels.list());
    this.alerts.evaluate(inputs, nowMs);
    this.metrics.alertsFiring.reset();
    for (const a of this.alerts.active) this.metrics.alertsFiring.inc({ figure: a.figure });
    this.#evict(nowMs);
  }

  /** The dashboard's data: every stream's figures, plots (points after unix second `sinceSec`), viewers and alerts. */
  snapshot(sinceSec = 0, nowMs = Date.now()): QoeSnapshot {
    const totals: QoeSnapshot['totals'] = {
      viewers: { webrtc: 0, moq: 0, hls: 0 },
      sessions: this.sessions.size,
      streams: 0,
      transportFailures: { ...this.#server.transportFailures },
    };
    const keys = new Set<string>([...this.#series.keys(), ...this.#ingestFigures.keys()]);
    const streams: QoeStreamView[] = [];
    for (const key of keys) {
      const entry = this.#series.get(key);
      const ingest = this.#ingestFigures.get(key);
      const label = entry?.label ?? ingest!.label;
      const viewers = this.#viewers.get(key);
      const paths: QoeStreamView['paths'] = {};
      for (const [path, series] of entry?.paths ?? []) {
        const v = viewers?.paths.get(path);
        totals.viewers[path] += v?.n ?? 0;
        paths[path] = { viewers: v?.n ?? 0, renditions: Object.fromEntries(v?.renditions ?? []), figures: series.figures, points: series.points(sinceSec) };
      }
      streams.push({
        key,
        room: label.room,
        stream: label.stream,
        viewers: viewers?.total ?? 0,
        paths,
        ingest: ingest ? { figures: ingest.figures, points: this.#ingestPoints.get(key)?.since(sinceSec) ?? [] } : null,
        server: this.#server.figures(key),
      });
    }
    streams.sort((a, b) => b.viewers - a.viewers || a.key.localeCompare(b.key));
    totals.streams = streams.length;
    return {
      now: nowMs,
      windowSeconds: this.config.windowSeconds,
      sessionWindowSeconds: Math.max(this.config.windowSeconds, this.config.sessionWindowSeconds),
      historySeconds: this.config.historySeconds,
      columns: POINT_COLUMNS,
      ingestColumns: INGEST_COLUMNS,
      totals,
      streams,
      alerts: { rules: this.config.alerts, active: this.alerts.active, recent: this.alerts.recent },
    };
  }

  /** Stops timers and counting. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#ingest.close();
    this.#server.close();
  }

  #renditionsOf(key: string): BoundedValues {
    let r = this.#renditions.get(key);
    if (!r) this.#renditions.set(key, (r = new BoundedValues(this.config.maxRenditionsPerStream)));
    return r;
  }

  #seriesOf(label: StreamLabel, path: QoePath): QoeSeries {
    let entry = this.#series.get(label.key);
    if (!entry) this.#series.set(label.key, (entry = { label, paths: new Map() }));
    let series = entry.paths.get(path);
    if (!series) entry.paths.set(path, (series = new QoeSeries(this.config.windowSeconds, this.config.historySeconds, this.config.sessionWindowSeconds)));
    return series;
  }

  /** Counts a sample; `end` closes the session (labels cannot be evicted while it lives: viewers keep them active). */
  #record(session: PlaybackSession, sample: QoeSample, nowMs: number, end?: { failed: boolean; reason?: string }): void {
    const reason = end?.failed ? this.#reasons.map(end.reason ?? 'unknown') : undefined;
    const full: QoeSample = end?.failed ? { ...sample, failed: true } : sample;
    const { label, path } = session;
    this.#seriesOf(label, path).add(full, nowMs);
    this.metrics.sample(label, path, full, reason);
    if (!end) return;
    this.sessions.delete(session);
    if (!session.firstFrame) this.metrics.noFirstFrame.inc({ room: label.room, stream: label.stream, path });
  }

  #countViewers(nowMs: number): void {
    const viewers: ViewerCounts = new Map();
    const gauge = this.metrics.activeSessions;
    gauge.reset();
    for (const s of this.sessions.values()) {
      let v = viewers.get(s.label.key);
      if (!v) viewers.set(s.label.key, (v = { total: 0, paths: new Map() }));
      v.total++;
      let p = v.paths.get(s.path);
      if (!p) v.paths.set(s.path, (p = { n: 0, renditions: new Map() }));
      p.n++;
      p.renditions.set(s.rendition, (p.renditions.get(s.rendition) ?? 0) + 1);
    }
    for (const [key, v] of viewers) {
      this.labels.touch(key, nowMs);
      const label = this.#series.get(key)?.label;
      if (!label) continue;
      for (const [path, p] of v.paths) {
        for (const [rendition, n] of p.renditions) gauge.set({ room: label.room, stream: label.stream, path, rendition }, n);
      }
    }
    this.#viewers = viewers;
  }

  #tickIngest(nowMs: number, inputs: AlertInput[]): void {
    const m = this.metrics;
    for (const g of [m.ingestBitrate, m.ingestFrameRate, m.ingestKeyframeInterval, m.ingestLoss]) g.reset();
    const all = this.#ingest.figures();
    // Streams beyond maxStreams share `other`: their sum would mean nothing as one contribution.
    all.delete(OTHER_STREAM.key);
    this.#ingestFigures = all;
    const sec = Math.floor(nowMs / 1000);
    for (const [key, { label, figures: f }] of all) {
      const l = { room: label.room, stream: label.stream };
      m.ingestBitrate.set({ ...l, kind: 'video' }, f.bitrateKbps - f.audioKbps);
      m.ingestBitrate.set({ ...l, kind: 'audio' }, f.audioKbps);
      if (f.frameRate !== null) m.ingestFrameRate.set(l, f.frameRate);
      if (f.keyframeIntervalMs !== null) m.ingestKeyframeInterval.set(l, f.keyframeIntervalMs / 1000);
      if (f.lossRatio !== null) m.ingestLoss.set({ ...l, kind: 'all' }, f.lossRatio);
      let ring = this.#ingestPoints.get(key);
      if (!ring) this.#ingestPoints.set(key, (ring = new PointRing(INGEST_COLUMNS.length, this.config.historySeconds)));
      ring.push([sec, f.bitrateKbps, f.frameRate, f.keyframeIntervalMs, f.lossRatio]);
      const ingestInputs: Array<[QoeFigure, number | null]> = [
        ['ingestFrameRate', f.frameRate],
        ['ingestLossRatio', f.lossRatio],
        ['ingestKeyframeIntervalMs', f.keyframeIntervalMs],
      ];
      for (const [figure, value] of ingestInputs) inputs.push({ label, figure, value, sessions: 0 });
    }
  }

  #evict(nowMs: number): void {
    for (const key of this.#ingest.activeKeys()) this.labels.touch(key, nowMs);
    for (const key of this.#server.activeKeys()) this.labels.touch(key, nowMs);
    for (const label of this.labels.evictIdle(nowMs, this.config.streamIdleSeconds * 1000)) {
      this.#series.delete(label.key);
      this.#ingestPoints.delete(label.key);
      this.#renditions.delete(label.key);
      this.metrics.removeStream(label);
      this.#server.forget(label.key);
    }
    for (const key of this.#ingestPoints.keys()) if (!this.#ingestFigures.has(key)) this.#ingestPoints.delete(key);
  }

  #announce(type: 'qoe.alert_fired' | 'qoe.alert_resolved', alert: QoeAlert): void {
    this.#deps.log.warn(type === 'qoe.alert_fired' ? 'QoE alert' : 'QoE alert resolved', {
      stream: `${alert.room}/${alert.stream}`,
      path: alert.path,
      figure: alert.figure,
      value: alert.value,
      threshold: alert.threshold,
    });
    if (type === 'qoe.alert_fired') this.metrics.alertsFired.inc({ figure: alert.figure });
    this.#deps.webhooks.emit({
      type,
      room: alert.room === OTHER_STREAM.room ? undefined : alert.room,
      data: {
        alertId: alert.id,
        stream: alert.stream,
        ...(alert.path ? { path: alert.path } : {}),
        figure: alert.figure,
        op: alert.op,
        threshold: alert.threshold,
        value: alert.value,
        firedAt: alert.firedAt,
        ...(alert.resolvedAt ? { resolvedAt: alert.resolvedAt } : {}),
      },
    });
  }
}
