/**
 * The error catalogue. Every error auditline raises is declared here once, with a stable
 * code (tests and callers match on `code`, never on the message) and the HTTP status the
 * API answers with.
 */

/** One field-level problem found while validating an event. */
export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `metadata.a.b` or `event_type`. */
  field: string;
  /** Stable code from {@link ErrorCodes}. */
  code: ErrorCode;
  message: string;
}

export const ErrorCodes = {
  // --- event validation (HTTP 400) ---
  INVALID_EVENT: 'AUDIT_ERR_INVALID_EVENT',
  NOT_AN_OBJECT: 'AUDIT_ERR_NOT_AN_OBJECT',
  FIELD_REQUIRED: 'AUDIT_ERR_FIELD_REQUIRED',
  FIELD_TYPE: 'AUDIT_ERR_FIELD_TYPE',
  FIELD_EMPTY: 'AUDIT_ERR_FIELD_EMPTY',
  UNKNOWN_FIELD: 'AUDIT_ERR_UNKNOWN_FIELD',
  STRING_TOO_LONG: 'AUDIT_ERR_STRING_TOO_LONG',
  INVALID_STRING: 'AUDIT_ERR_INVALID_STRING',
  METADATA_TYPE: 'AUDIT_ERR_METADATA_TYPE',
  METADATA_TOO_DEEP: 'AUDIT_ERR_METADATA_TOO_DEEP',
  METADATA_TOO_LARGE: 'AUDIT_ERR_METADATA_TOO_LARGE',
  INVALID_IP: 'AUDIT_ERR_INVALID_IP',
  INVALID_TIMESTAMP: 'AUDIT_ERR_INVALID_TIMESTAMP',
  TIMESTAMP_OUT_OF_BOUNDS: 'AUDIT_ERR_TIMESTAMP_OUT_OF_BOUNDS',
  INVALID_ID: 'AUDIT_ERR_INVALID_ID',
  UNKNOWN_CATEGORY: 'AUDIT_ERR_UNKNOWN_CATEGORY',
  // --- request level (HTTP) ---
  BATCH_TOO_LARGE: 'AUDIT_ERR_BATCH_TOO_LARGE',
  BATCH_EMPTY: 'AUDIT_ERR_BATCH_EMPTY',
  MALFORMED_JSON: 'AUDIT_ERR_MALFORMED_JSON',
  UNSUPPORTED_MEDIA_TYPE: 'AUDIT_ERR_UNSUPPORTED_MEDIA_TYPE',
  BODY_TOO_LARGE: 'AUDIT_ERR_BODY_TOO_LARGE',
  UNAUTHORIZED: 'AUDIT_ERR_UNAUTHORIZED',
  NOT_FOUND: 'AUDIT_ERR_NOT_FOUND',
  INVALID_QUERY: 'AUDIT_ERR_INVALID_QUERY',
  /** Any other malformed HTTP request (e.g. a body shorter than its Content-Length). */
  BAD_REQUEST: 'AUDIT_ERR_BAD_REQUEST',
  // --- runtime ---
  CONFIG: 'AUDIT_ERR_CONFIG',
  CLOSED: 'AUDIT_ERR_CLOSED',
  QUEUE_UNAVAILABLE: 'AUDIT_ERR_QUEUE_UNAVAILABLE',
  STORE_UNAVAILABLE: 'AUDIT_ERR_STORE_UNAVAILABLE',
  NOT_READY: 'AUDIT_ERR_NOT_READY',
  MIGRATION: 'AUDIT_ERR_MIGRATION',
  INTERNAL: 'AUDIT_ERR_INTERNAL',
  // --- disk journal ---
  JOURNAL_LOCKED: 'AUDIT_ERR_JOURNAL_LOCKED',
  JOURNAL_FULL: 'AUDIT_ERR_JOURNAL_FULL',
  JOURNAL_RECORD_TOO_LARGE: 'AUDIT_ERR_JOURNAL_RECORD_TOO_LARGE',
  JOURNAL_ACK_ORDER: 'AUDIT_ERR_JOURNAL_ACK_ORDER',
  JOURNAL_IO: 'AUDIT_ERR_JOURNAL_IO',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const httpStatusByCode: Partial<Record<ErrorCode, number>> = {
  AUDIT_ERR_INVALID_EVENT: 400,
  AUDIT_ERR_BATCH_TOO_LARGE: 400,
  AUDIT_ERR_BATCH_EMPTY: 400,
  AUDIT_ERR_MALFORMED_JSON: 400,
  AUDIT_ERR_INVALID_QUERY: 400,
  AUDIT_ERR_BAD_REQUEST: 400,
  AUDIT_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  AUDIT_ERR_BODY_TOO_LARGE: 413,
  AUDIT_ERR_UNAUTHORIZED: 401,
  AUDIT_ERR_NOT_FOUND: 404,
  AUDIT_ERR_QUEUE_UNAVAILABLE: 503,
  AUDIT_ERR_STORE_UNAVAILABLE: 503,
  AUDIT_ERR_NOT_READY: 503,
  AUDIT_ERR_CLOSED: 503,
  AUDIT_ERR_JOURNAL_FULL: 503,
};

/** Base class of every error auditline throws. */
export class AuditError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AuditError';
    this.code = code;
    this.statusCode = httpStatusByCode[code] ?? 500;
    this.details = options?.details;
  }
}

/** Thrown by `log()` (and reported by the HTTP API) when an event fails validation. */
export class EventValidationError extends AuditError {
  readonly issues: FieldIssue[];

  constructor(issues: FieldIssue[]) {
    const first = issues[0];
    super(
      ErrorCodes.INVALID_EVENT,
      first ? `invalid audit event: ${first.field}: ${first.message}` : 'invalid audit event',
      { details: { issues } },
    );
    this.name = 'EventValidationError';
    this.issues = issues;
  }
}

/** Thrown by `logMany()` when some events of a batch are invalid; none of them was queued. */
export class BatchValidationError extends AuditError {
  readonly invalid: { index: number; issues: FieldIssue[] }[];

  constructor(invalid: { index: number; issues: FieldIssue[] }[]) {
    super(ErrorCodes.INVALID_EVENT, `${invalid.length} invalid event(s) in batch; none was queued`, {
      details: { invalid },
    });
    this.name = 'BatchValidationError';
    this.invalid = invalid;
  }
}

/** Thrown when configuration is missing, contradictory or malformed. */
export class ConfigError extends AuditError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCodes.CONFIG, message, options);
    this.name = 'ConfigError';
  }
}

export function isAuditError(err: unknown): err is AuditError {
  return err instanceof AuditError;
}
