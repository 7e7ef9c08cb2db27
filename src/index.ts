/**
 * auditline's public library API. Nothing outside this module (and `auditline/express`)
 * is public.
 */

/**
 * Receiving alerts: a webhook receiver checks `X-Auditline-Signature` with
 * {@link verifyWebhookSignature} over the raw body before parsing it as a
 * {@link WebhookBody}. `signWebhookBody` produces the same signature (e.g. for tests);
 * {@link AlertNotification} and {@link AlertSink} describe what a custom sink receives.
 */
export {
  type AlertAction,
  type AlertNotification,
  type AlertSink,
  type HttpRequestSpec,
  SIGNATURE_HEADER,
  signWebhookBody,
  TIMESTAMP_HEADER,
  type VerifyWebhookInput,
  verifyWebhookSignature,
  type WebhookBody,
} from './alerts/index.js';
export { type AlertConfig, type AuditlineConfig, type ConfigOverrides, loadConfig } from './config.js';
export { canonicalForm, hashEvent, verifyEventHash } from './core/canonical.js';
export {
  AuditError,
  BatchValidationError,
  ConfigError,
  type ErrorCode,
  ErrorCodes,
  EventValidationError,
  type FieldIssue,
} from './core/errors.js';
export type {
  AuditEvent,
  AuditEventInput,
  JsonObject,
  JsonValue,
  LogOutcome,
  LogResult,
} from './core/event.js';
/**
 * Health evaluation, pure: `evaluateHealth(snapshot, thresholds)` turns a
 * {@link HealthSnapshot} into findings and one status, the most severe finding
 * (`critical` > `degraded` > `warning` > `healthy`; `no_data` when no worker has reported).
 * {@link DEFAULT_HEALTH_THRESHOLDS} holds the seed's thresholds and {@link HEALTH_RULES}
 * every rule id with its severity.
 */
export {
  DEFAULT_HEALTH_THRESHOLDS,
  evaluateHealth,
  HEALTH_RULES,
  type HealthIssue,
  type HealthReport,
  type HealthRuleId,
  type HealthSnapshot,
  type HealthStatus,
  type HealthThresholds,
  type Severity,
} from './core/health.js';
export { validateEvent } from './core/validate.js';
export {
  type AuditLoggerHandle,
  type AuditLoggerOptions,
  closeDefaultLogger,
  createAuditLogger,
  logAudit,
} from './logger.js';
export type { AuditLogger } from './logger-types.js';
/**
 * Monitoring: the body of `GET /api/monitoring/audit-metrics` (also `audit.metrics()`),
 * its parts, and the alerts the evaluating process reports as on. See docs/monitoring.md.
 */
export type {
  AggregatedMetrics,
  AuditMetricsResponse,
  JournalView,
  ProcessRole,
  ProcessView,
  PublishedAlert,
} from './metrics/index.js';
export type { OverflowPolicy, ProducerStats } from './producer.js';
export { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';
export { type FlushReport, Worker, type WorkerDeps } from './worker/worker.js';
