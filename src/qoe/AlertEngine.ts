/**
 * Threshold alerts on the windowed QoE figures: a rule fires for a stream (and path) once its
 * condition has held for `forSeconds`, and resolves once it has been false (or without data) for
 * as long. Firing and resolving are reported through a callback (the node's webhooks) and kept
 * for the dashboard: the alerts firing now and the last ones that fired or resolved.
 */
import type { QoeAlertRule, QoeFigure } from './qoeConfig';
import type { StreamLabel } from './StreamLabels';

/** A figure value of one stream (and path; undefined for ingest figures) at one tick. */
export interface AlertInput {
  label: StreamLabel;
  path?: string;
  figure: QoeFigure;
  value: number | null;
  /** Session attempts in the window, or viewers now (whichever is larger). */
  sessions: number;
}

/** An alert as the dashboard and webhooks see it. */
export interface QoeAlert {
  /** Stable per rule, stream and path while it fires. */
  id: string;
  room: string;
  stream: string;
  path?: string;
  figure: QoeFigure;
  /** `>` for `above` rules, `<` for `below`. */
  op: '>' | '<';
  threshold: number;
  /** The figure when the alert fired (or, while firing, its latest value). */
  value: number;
  firedAt: number;
  resolvedAt?: number;
}

interface RuleState {
  since?: number;
  clearSince?: number;
  alert?: QoeAlert;
}

/** Callbacks of {@link AlertEngine}. */
export interface AlertHooks {
  fired(alert: QoeAlert): void;
  resolved(alert: QoeAlert): void;
}

const INGEST_FIGURES: ReadonlySet<QoeFigure> = new Set(['ingestFrameRate', 'ingestLossRatio', 'ingestKeyframeIntervalMs']);

/** The alert rules and their state. */
export class AlertEngine {
  readonly #rules: readonly QoeAlertRule[];
  readonly #hooks: AlertHooks;
  readonly #state = new Map<string, RuleState>();
  readonly #recent: QoeAlert[] = [];

  constructor(rules: readonly QoeAlertRule[], hooks: AlertHooks) {
    this.#rules = rules;
    this.#hooks = hooks;
  }

  /** The configured rules. */
  get rules(): readonly QoeAlertRule[] {
    return this.#rules;
  }

  /** Evaluates every rule against this tick's figures. */
  evaluate(inputs: readonly AlertInput[], nowMs: number): void {
    const seen = new Set<string>();
    this.#rules.forEach((rule, index) => {
      for (const input of inputs) {
        if (input.figure !== rule.figure) continue;
        const ingest = INGEST_FIGURES.has(rule.figure);
        if (!ingest && rule.path !== undefined && input.path !== rule.path) continue;
        const key = `${index}|${input.label.key}|${input.path ?? ''}`;
        seen.add(key);
        const v = input.value;
        const breached = v !== null && (ingest || input.sessions >= rule.minSessions) && (rule.above !== undefined ? v > rule.above : v < rule.below!);
        this.#step(key, rule, input, breached, nowMs);
      }
    });
    // Streams or paths that produced no input this tick (gone, evicted) count as clear.
    for (const [key, state] of this.#state) {
      if (seen.has(key)) continue;
      if (state.alert) this.#clear(key, state, this.#rules[Number(key.split('|')[0])]!, nowMs, true);
      else this.#state.delete(key);
    }
  }

  /** Alerts firing now. */
  get active(): QoeAlert[] {
    return [...this.#state.values()].flatMap((s) => (s.alert ? [s.alert] : []));
  }

  /** The last 50 alerts that fired or resolved, newest first. */
  get recent(): QoeAlert[] {
    return [...this.#recent];
  }

  #step(key: string, rule: QoeAlertRule, input: AlertInput, breached: boolean, nowMs: number): void {
    let state = this.#state.get(key);
    if (!state) {
      if (!breached) return;
      this.#state.set(key, (state = {}));
    }
    if (breached) {
      state.clearSince = undefined;
      state.since ??= nowMs;
      if (state.alert) {
        state.alert.value = input.value!;
        return;
      }
      if (nowMs - state.since < rule.forSeconds * 1000) return;
      const alert: QoeAlert = {
        id: `${rule.figure}:${input.label.key}:${input.path ?? 'ingest'}:${nowMs}`,
        room: input.label.room,
        stream: input.label.stream,
        ...(input.path && !INGEST_FIGURES.has(rule.figure) ? { path: input.path } : {}),
        figure: rule.figure,
        op: rule.above !== undefined ? '>' : '<',
        threshold: rule.above ?? rule.below!,
        value: input.value!,
        firedAt: nowMs,
      };
      state.alert = alert;
      this.#remember(alert);
      this.#hooks.fired(alert);
      return;
    }
    this.#clear(key, state, rule, nowMs, false);
  }

  #clear(key: string, state: RuleState, rule: QoeAlertRule, nowMs: number, gone: boolean): void {
    state.since = undefined;
    if (!state.alert) {
      this.#state.delete(key);
      return;
    }
    state.clearSince ??= nowMs;
    if (!gone && nowMs - state.clearSince < rule.forSeconds * 1000) return;
    const alert = { ...state.alert, resolvedAt: nowMs };
    this.#state.delete(key);
    this.#remember(alert);
    this.#hooks.resolved(alert);
  }

  #remember(alert: QoeAlert): void {
    this.#recent.unshift(alert);
    if (this.#recent.length > 50) this.#recent.pop();
  }
}
