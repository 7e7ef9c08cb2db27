/** Shared types of the alerting engine: what the manager emits and what a sink consumes. */
import type { HealthIssue, HealthRuleId, Severity } from '../core/health.js';

/**
 * What happened to an alert:
 * - `trigger`: its condition started (sent once);
 * - `renotify`: it is still on after `renotifyIntervalMs`;
 * - `resolve`: its condition cleared.
 */
export type AlertAction = 'trigger' | 'renotify' | 'resolve';

/** One notification for one alert (an alert is keyed by its health rule id). */
export interface AlertNotification {
  action: AlertAction;
  /** The health rule this alert is for; also its key. */
  rule: HealthRuleId;
  severity: Severity;
  /** The latest finding; for `resolve`, the last finding seen while the alert was on. */
  issue: HealthIssue;
  /** Deployment name (`AlertManagerOptions.environment`), part of dedup keys and messages. */
  environment: string;
  /** The process that sent it (`AlertManagerOptions.source`, default the host name). */
  source: string;
  /** Epoch ms at which the condition was first seen. */
  startedAtMs: number;
  /** Epoch ms of this notification (from the manager's clock). */
  atMs: number;
}

/** An HTTP POST a sink wants sent. */
export interface HttpRequestSpec {
  url: string;
  headers: Record<string, string>;
  /** The exact bytes sent (JSON text); signatures are computed over it. */
  body: string;
}

/**
 * A destination for alerts. A sink only *describes* the request; the manager sends it with
 * retries, so no sink can throw into a worker or block it beyond the delivery bounds.
 */
export interface AlertSink {
  /** Label used in delivery statistics, e.g. `slack`. Unique per manager. */
  readonly name: string;
  /** The request for a notification, or `null` to skip it (e.g. a sink that ignores re-notifies). */
  request(notification: AlertNotification): HttpRequestSpec | null;
}
