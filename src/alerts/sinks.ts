/**
 * Alert sinks: Slack incoming webhook, PagerDuty Events API v2, and a signed generic webhook.
 * Each builds the exact request for a notification; {@link deliver} sends it.
 */
import type { Severity } from '../core/health.js';
import { SIGNATURE_HEADER, signWebhookBody, TIMESTAMP_HEADER } from './signature.js';
import type { AlertAction, AlertNotification, AlertSink, HttpRequestSpec } from './types.js';

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

const LABEL: Record<AlertAction, string> = {
  trigger: 'FIRING',
  renotify: 'STILL FIRING',
  resolve: 'RESOLVED',
};

function icon(n: AlertNotification): string {
  if (n.action === 'resolve') return ':white_check_mark:';
  return n.severity === 'critical'
    ? ':rotating_light:'
    : n.severity === 'degraded'
      ? ':large_orange_circle:'
      : ':warning:';
}

/** Slack mrkdwn treats `&`, `<` and `>` as control characters; everything else is literal. */
function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Stable alert key shared by PagerDuty (`dedup_key`) and the webhook body: `auditline:<env>:<rule>`. */
export function alertKey(n: Pick<AlertNotification, 'environment' | 'rule'>): string {
  return `auditline:${n.environment}:${n.rule}`;
}

/** Options of {@link slackSink}. */
export interface SlackSinkOptions {
  /** The incoming-webhook URL (`https://hooks.slack.com/services/…`). */
  webhookUrl: string;
  /** Sink name in statistics. Default `slack`. */
  name?: string;
}

/**
 * The Slack message for a notification. Exact payload:
 * ```json
 * { "text": "<icon> [FIRING|STILL FIRING|RESOLVED] auditline <env>: <message>",
 *   "blocks": [
 *     { "type": "section", "text": { "type": "mrkdwn",
 *       "text": "<icon> *<LABEL>* auditline `<env>` `<rule>`\n<message>" } },
 *     { "type": "context", "elements": [ { "type": "mrkdwn",
 *       "text": "severity *<severity>* | value <value> | threshold <threshold> | since <ISO start> | source <source>" } ] } ] }
 * ```
 * `text` is the notification/fallback text; `blocks` is what the channel shows.
 */
export function slackPayload(n: AlertNotification): { text: string; blocks: unknown[] } {
  const env = slackEscape(n.environment);
  const msg = slackEscape(n.issue.message);
  const label = LABEL[n.action];
  return {
    text: `${icon(n)} [${label}] auditline ${env}: ${msg}`,
    blocks: [
      {
        type: 'section',
        text: { type: 'mrkdwn', text: `${icon(n)} *${label}* auditline \`${env}\` \`${n.rule}\`\n${msg}` },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text:
              `severity *${n.severity}* | value ${n.issue.value} | threshold ${n.issue.threshold}` +
              ` | since ${new Date(n.startedAtMs).toISOString()} | source ${slackEscape(n.source)}`,
          },
        ],
      },
    ],
  };
}

/** Posts every notification (trigger, re-notify, resolve) to a Slack incoming webhook. */
export function slackSink(options: SlackSinkOptions): AlertSink {
  return {
    name: options.name ?? 'slack',
    request: (n) => ({
      url: options.webhookUrl,
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(slackPayload(n)),
    }),
  };
}

/** Default PagerDuty Events API v2 endpoint. */
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Options of {@link pagerDutySink}. */
export interface PagerDutySinkOptions {
  /** Integration key of the PagerDuty service (Events API v2). */
  routingKey: string;
  /** Events endpoint. Default {@link PAGERDUTY_EVENTS_URL}; tests point it at a local receiver. */
  url?: string;
  /** `payload.component`. Default `auditline`. */
  component?: string;
  /** Sink name in statistics. Default `pagerduty`. */
  name?: string;
}

/** auditline severity → PagerDuty severity (`critical`, `error`, `warning`, `info`). */
export const PAGERDUTY_SEVERITY: Readonly<Record<Severity, 'critical' | 'error' | 'warning'>> = Object.freeze(
  {
    critical: 'critical',
    degraded: 'error',
    warning: 'warning',
  },
);

/**
 * The PagerDuty Events v2 body. Trigger (also sent for re-notify; PagerDuty folds it into the
 * open incident with the same `dedup_key`, updating its details without paging again):
 * ```json
 * { "routing_key": "<key>", "event_action": "trigger", "dedup_key": "auditline:<env>:<rule>",
 *   "payload": { "summary": "[auditline <env>] <message>", "source": "<source>",
 *     "severity": "critical|error|warning", "timestamp": "<ISO of this notification>",
 *     "component": "auditline",
 *     "custom_details": { "rule", "severity", "value", "threshold", "started_at", "action" } } }
 * ```
 * Resolve: `{ "routing_key", "event_action": "resolve", "dedup_key" }` with the same key.
 */
export function pagerDutyPayload(n: AlertNotification, routingKey: string, component = 'auditline'): object {
  const dedup_key = alertKey(n);
  if (n.action === 'resolve') return { routing_key: routingKey, event_action: 'resolve', dedup_key };
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key,
    payload: {
      // PagerDuty truncates summaries at 1024 characters; do it ourselves so it is predictable.
      summary: `[auditline ${n.environment}] ${n.issue.message}`.slice(0, 1024),
      source: n.source,
      severity: PAGERDUTY_SEVERITY[n.severity],
      timestamp: new Date(n.atMs).toISOString(),
      component,
      custom_details: {
        rule: n.rule,
        severity: n.severity,
        value: n.issue.value,
        threshold: n.issue.threshold,
        started_at: new Date(n.startedAtMs).toISOString(),
        action: n.action,
      },
    },
  };
}

/** Triggers and resolves PagerDuty incidents, one per rule and environment. */
export function pagerDutySink(options: PagerDutySinkOptions): AlertSink {
  const url = options.url ?? PAGERDUTY_EVENTS_URL;
  return {
    name: options.name ?? 'pagerduty',
    request: (n) => ({
      url,
      headers: { ...JSON_HEADERS },
      body: JSON.stringify(pagerDutyPayload(n, options.routingKey, options.component)),
    }),
  };
}

/** Options of {@link webhookSink}. */
export interface WebhookSinkOptions {
  url: string;
  /** HMAC-SHA256 key; share it with the receiver, which calls `verifyWebhookSignature`. */
  secret: string;
  /** Sink name in statistics. Default `webhook`. */
  name?: string;
}

/** The JSON body of the generic webhook (version 1). */
export interface WebhookBody {
  version: 1;
  /** Unique per notification; identical across retries, so receivers can deduplicate on it. */
  id: string;
  /** `auditline:<env>:<rule>`: stable for the alert's whole life. */
  key: string;
  action: AlertAction;
  environment: string;
  source: string;
  rule: string;
  severity: Severity;
  message: string;
  value: number | boolean;
  threshold: number | boolean;
  /** ISO time the condition started. */
  started_at: string;
  /** ISO time of this notification. */
  at: string;
}

/** The webhook body for a notification. */
export function webhookBody(n: AlertNotification): WebhookBody {
  const key = alertKey(n);
  return {
    version: 1,
    id: `${key}:${n.action}:${n.atMs}`,
    key,
    action: n.action,
    environment: n.environment,
    source: n.source,
    rule: n.rule,
    severity: n.severity,
    message: n.issue.message,
    value: n.issue.value,
    threshold: n.issue.threshold,
    started_at: new Date(n.startedAtMs).toISOString(),
    at: new Date(n.atMs).toISOString(),
  };
}

/**
 * Posts {@link WebhookBody} signed as described in `signature.ts`. The timestamp header is the
 * notification time in unix seconds; retries resend the identical signed request.
 */
export function webhookSink(options: WebhookSinkOptions): AlertSink {
  return {
    name: options.name ?? 'webhook',
    request: (n): HttpRequestSpec => {
      const body = JSON.stringify(webhookBody(n));
      const ts = Math.floor(n.atMs / 1000);
      return {
        url: options.url,
        headers: {
          ...JSON_HEADERS,
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signWebhookBody(options.secret, ts, body),
        },
        body,
      };
    },
  };
}
