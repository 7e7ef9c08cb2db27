/** Alerting: state machine, sinks, delivery and the evaluation lease. */
export {
  backoffMs,
  DEFAULT_DELIVERY,
  type DeliveryOptions,
  type DeliveryResult,
  deliver,
} from './deliver.js';
export { type AlertLease, MemoryAlertLease, RedisAlertLease } from './lease.js';
export {
  type ActiveAlert,
  AlertManager,
  type AlertManagerOptions,
  type DispatchRecord,
  type EvaluationResult,
  type SinkStats,
} from './manager.js';
export {
  SIGNATURE_HEADER,
  signWebhookBody,
  TIMESTAMP_HEADER,
  type VerifyWebhookInput,
  verifyWebhookSignature,
} from './signature.js';
export {
  alertKey,
  PAGERDUTY_EVENTS_URL,
  PAGERDUTY_SEVERITY,
  type PagerDutySinkOptions,
  pagerDutyPayload,
  pagerDutySink,
  type SlackSinkOptions,
  slackPayload,
  slackSink,
  type WebhookBody,
  type WebhookSinkOptions,
  webhookBody,
  webhookSink,
} from './sinks.js';
export type { AlertAction, AlertNotification, AlertSink, HttpRequestSpec } from './types.js';
