/**
 * The node's webhook sender: turns `emit(event)` into a signed JSON body queued on every
 * endpoint that wants it, and counts what happens in the node's metrics registry.
 */
import crypto from 'node:crypto';
import client from 'prom-client';
import type { Logger } from '../core/logger';
import type { Config } from '../config/schema';
import type { WebhookEmitter, WebhookEvent, WebhookEventInput } from './events';
import { WebhookEndpoint } from './WebhookEndpoint';

/** Options of {@link WebhookDispatcher}: the `webhooks` config slice and the node id. */
export interface WebhookDispatcherOptions {
  nodeId: string;
  config: Config['webhooks'];
  /** Registry the webhook metrics go to (the node's /metrics). */
  registry: client.Registry;
}

/** Sends events to the configured endpoints. */
export class WebhookDispatcher implements WebhookEmitter {
  readonly endpoints: readonly WebhookEndpoint[];
  readonly #nodeId: string;
  readonly #log: Logger;
  readonly #emitted: client.Counter<'type'>;
  #closed = false;

  constructor(options: WebhookDispatcherOptions, log: Logger) {
    this.#nodeId = options.nodeId;
    this.#log = log;
    const registry = options.registry;
    const c = options.config;
    this.#emitted = new client.Counter({
      name: 'subsec_webhook_events_total',
      help: 'Webhook events emitted, by type',
      labelNames: ['type'],
      registers: [registry],
    });
    const attempts = new client.Counter({
      name: 'subsec_webhook_attempts_total',
      help: 'Webhook delivery attempts by endpoint and outcome (ok = 2xx)',
      labelNames: ['endpoint', 'outcome'],
      registers: [registry],
    });
    const undeliverable = new client.Counter({
      name: 'subsec_webhook_undeliverable_total',
      help: 'Webhook events given up, by endpoint and reason (attempts_exhausted, queue_full, shutdown)',
      labelNames: ['endpoint', 'reason'],
      registers: [registry],
    });
    const latency = new client.Histogram({
      name: 'subsec_webhook_delivery_seconds',
      help: 'Time from an event to its acknowledgement by the receiver',
      labelNames: ['endpoint'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    });
    this.endpoints = c.endpoints.map((e) => {
      const endpoint: WebhookEndpoint = new WebhookEndpoint(
        {
          url: e.url,
          secret: e.secret ?? c.secret,
          events: e.events,
          timeoutMs: c.timeoutMs,
          maxAttempts: c.maxAttempts,
          backoffMs: c.backoffMs,
          backoffMaxMs: c.backoffMaxMs,
          maxQueued: c.maxQueuedEvents,
          maxConcurrent: c.maxConcurrent,
        },
        {
          onAttempt: (ok, latencyMs) => {
            attempts.inc({ endpoint: endpoint.label, outcome: ok ? 'ok' : 'failed' });
            if (ok) latency.observe({ endpoint: endpoint.label }, latencyMs / 1000);
          },
          onUndeliverable: (reason, count) => undeliverable.inc({ endpoint: endpoint.label, reason }, count),
        },
        log,
      );
      return endpoint;
    });
    const endpoints = this.endpoints;
    new client.Gauge({
      name: 'subsec_webhook_queued_events',
      help: 'Webhook events waiting or in flight, by endpoint',
      labelNames: ['endpoint'],
      registers: [registry],
      collect() {
        this.reset();
        for (const e of endpoints) this.set({ endpoint: e.label }, e.queued);
      },
    });
  }

  /** Queues the event for every endpoint that wants it; returns at once and never throws. */
  emit(input: WebhookEventInput): void {
    if (this.#closed) return;
    try {
      this.#emitted.inc({ type: input.type });
      if (this.endpoints.length === 0) return;
      const event = { id: crypto.randomUUID(), createdAt: Date.now(), node: this.#nodeId, ...input } as WebhookEvent;
      const body = JSON.stringify(event);
      for (const endpoint of this.endpoints) if (endpoint.accepts(event.type)) endpoint.enqueue(event, body);
    } catch (err) {
      this.#log.error('webhook emit failed', { type: input.type, error: err });
    }
  }

  /** Waits until every endpoint's queue is empty or the deadline passes; true when all drained. */
  async flush(timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.endpoints.map((e) => e.flush(timeoutMs)));
    return results.every(Boolean);
  }

  /** Stops delivery; what is still queued is counted undeliverable and logged. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of this.endpoints) e.close();
  }
}
