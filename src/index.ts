/**
 * auditline's public library API. Nothing outside this module (and `auditline/express`)
 * is public.
 */
export { type AuditlineConfig, type ConfigOverrides, loadConfig } from './config.js';
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
export { validateEvent } from './core/validate.js';
export {
  type AuditLoggerHandle,
  type AuditLoggerOptions,
  closeDefaultLogger,
  createAuditLogger,
  logAudit,
} from './logger.js';
export type { AuditLogger } from './logger-types.js';
export type { OverflowPolicy, ProducerStats } from './producer.js';
export { createRuntime, type Runtime, type RuntimeOptions } from './runtime.js';
export { type FlushReport, Worker, type WorkerDeps } from './worker/worker.js';
