/**
 * The one place where errors become HTTP answers. Every error response has the shape
 * `{ error: { code, message, ... } }` with a code from the catalogue; stack traces and the
 * messages of unexpected errors never leave the process.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuditError,
  BatchValidationError,
  type ErrorCode,
  ErrorCodes,
  EventValidationError,
  type FieldIssue,
} from '../core/errors.js';

/** The body of every non-2xx answer. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Present for `AUDIT_ERR_INVALID_EVENT`: each invalid event by its index in the request. */
    invalid?: { index: number; issues: FieldIssue[] }[];
    [extra: string]: unknown;
  };
}

/**
 * Fastify's own request errors, by Fastify code. Both JSON parse errors map to one code:
 * an empty body is as unparseable as a truncated one.
 */
const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
  FST_ERR_CTP_BODY_TOO_LARGE: ErrorCodes.BODY_TOO_LARGE,
  FST_ERR_CTP_INVALID_JSON_BODY: ErrorCodes.MALFORMED_JSON,
  FST_ERR_CTP_EMPTY_JSON_BODY: ErrorCodes.MALFORMED_JSON,
};

const fastifyMessages: Partial<Record<ErrorCode, string>> = {
  AUDIT_ERR_UNSUPPORTED_MEDIA_TYPE: 'the body must be JSON sent with Content-Type: application/json',
  AUDIT_ERR_MALFORMED_JSON: 'the body is not valid JSON',
};

/** Translates any thrown value into a status and an error body. Pure; used by the error handler. */
export function toErrorResponse(err: unknown): { statusCode: number; body: ErrorBody } {
  if (err instanceof BatchValidationError) {
    return {
      statusCode: 400,
      body: { error: { code: err.code, message: err.message, invalid: err.invalid } },
    };
  }
  if (err instanceof EventValidationError) {
    // A single-event error still answers with the batch shape, so clients parse one form.
    return {
      statusCode: 400,
      body: { error: { code: err.code, message: err.message, invalid: [{ index: 0, issues: err.issues }] } },
    };
  }
  if (err instanceof AuditError) {
    // Details of client errors help the caller fix the request; details of server errors
    // may describe internals, so they stay in the log.
    const extra = err.statusCode < 500 && err.details ? err.details : {};
    return {
      statusCode: err.statusCode,
      body: { error: { ...extra, code: err.code, message: err.message } },
    };
  }
  const fe = err as Partial<FastifyError> | null;
  if (fe && typeof fe.code === 'string' && fastifyCodes[fe.code]) {
    const code = fastifyCodes[fe.code] as ErrorCode;
    const statusCode = new AuditError(code, '').statusCode;
    const message = fastifyMessages[code] ?? fe.message ?? code;
    return { statusCode, body: { error: { code, message } } };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Another request-level error from Fastify (bad URL, Content-Length mismatch, …):
    // its message is written for clients and names no internals.
    return {
      statusCode: fe.statusCode,
      body: { error: { code: ErrorCodes.BAD_REQUEST, message: fe.message ?? 'bad request' } },
    };
  }
  return { statusCode: 500, body: { error: { code: ErrorCodes.INTERNAL, message: 'internal error' } } };
}

/** Fastify error handler: answers with {@link toErrorResponse} and logs server-side failures. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { statusCode, body } = toErrorResponse(err);
  if (statusCode >= 500) request.log.error({ err }, 'request failed');
  if (statusCode === 401) reply.header('www-authenticate', 'Bearer realm="auditline"');
  return reply.code(statusCode).type('application/json; charset=utf-8').send(body);
}
