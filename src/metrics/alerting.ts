/**
 * Alerting wired to the metrics reader: sinks from configuration, a lease so one process
 * evaluates whatever the number of workers, and the alerts that are on published to the
 * metrics store so `auditline stats` and the monitoring endpoint can show them.
 */

import type { AlertLease } from '../alerts/lease.js';
import { AlertManager } from '../alerts/manager.js';
import { pagerDutySink, slackSink, webhookSink } from '../alerts/sinks.js';
import type { AlertSink } from '../alerts/types.js';
import type { AlertConfig } from '../config.js';
import type { MetricsReader } from './reader.js';
import type { MetricsStore } from './types.js';

/** The sinks the configuration names; empty when alerting is not configured. */
export function alertSinks(alerts: Readonly<AlertConfig>): AlertSink[] {
  const sinks: AlertSink[] = [];
  if (alerts.slackWebhookUrl) sinks.push(slackSink({ webhookUrl: alerts.slackWebhookUrl }));
  if (alerts.pagerDutyRoutingKey) {
    sinks.push(
      pagerDutySink({
        routingKey: alerts.pagerDutyRoutingKey,
        ...(alerts.pagerDutyUrl ? { url: alerts.pagerDutyUrl } : {}),
      }),
    );
  }
  if (alerts.webhookUrl && alerts.webhookSecret) {
    sinks.push(webhookSink({ url: alerts.webhookUrl, secret: alerts.webhookSecret }));
  }
  return sinks;
}

/** Options of {@link AlertLoop}. */
export interface AlertLoopOptions {
  alerts: Readonly<AlertConfig>;
  environment: string;
  reader: MetricsReader;
  store: MetricsStore;
  lease: AlertLease;
  sinks: AlertSink[];
  onError?: (err: unknown, context: string) => void;
}

/**
 * Runs {@link AlertManager.evaluateOnce} every `alerts.intervalMs` on an unref'd timer and,
 * when this process evaluated (it holds the lease), publishes the alerts that are on.
 */
export class AlertLoop {
  readonly manager: AlertManager;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: AlertLoopOptions) {
    this.manager = new AlertManager({
      sinks: opts.sinks,
      environment: opts.environment,
      renotifyIntervalMs: opts.alerts.renotifyMs,
      intervalMs: opts.alerts.intervalMs,
      collect: () => opts.reader.health(),
      lease: opts.lease,
      onError: opts.onError ?? (() => {}),
    });
  }

  /** Starts evaluating (first run at once). Idempotent. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.running = this.evaluate().finally(() => {
        this.running = null;
        if (this.timer) this.timer = setTimeout(tick, this.opts.alerts.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** One evaluation and, if this process is the evaluator, one publication. Never rejects. */
  async evaluate(): Promise<void> {
    const result = await this.manager.evaluateOnce();
    if (!result.evaluated) return;
    const active = this.manager.active().map((a) => ({
      rule: a.rule,
      severity: a.issue.severity,
      message: a.issue.message,
      startedAt: a.startedAtMs,
    }));
    try {
      // Outlives one missed evaluation, like the lease: a dead evaluator's list then expires.
      await this.opts.store.publishAlerts(active, 3 * this.opts.alerts.intervalMs);
    } catch (err) {
      this.opts.onError?.(err, 'alerts publish');
    }
  }

  /** Stops evaluating and releases the lease so another process takes over at once. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.manager.stop();
  }
}
