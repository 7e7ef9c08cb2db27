/**
 * `auditline/express`: audit logging for Express apps (the seed plan's stack).
 *
 * - {@link auditMiddleware} adds `req.audit(event)`, which fills in who and from where
 *   (client IP honouring Express's `trust proxy`, user agent, user and tenant ids) and logs.
 * - {@link monitoringRouter} serves the metrics endpoint, `GET /api/monitoring/audit-metrics`.
 *
 * Only types are imported from `express`, so the package keeps `express` an optional peer:
 * nothing here loads it at run time, and the same code serves Express 4 and 5 apps.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createAuditLogger } from 'auditline';
 * import { auditMiddleware, monitoringRouter } from 'auditline/express';
 *
 * const audit = createAuditLogger(); // REDIS_URL + DATABASE_URL, or embedded when unset
 * const app = express();
 * app.set('trust proxy', 'loopback'); // behind a local reverse proxy: req.ip = X-Forwarded-For client
 * app.use(express.json());
 * app.use(auditMiddleware(audit, { userId: (req) => req.get('x-user-id') }));
 * app.use(monitoringRouter({ metrics: () => myMetricsProvider() }));
 *
 * app.put('/documents/:id', async (req, res) => {
 *   // ... update the document ...
 *   const { id } = await req.audit({
 *     event_type: 'document.update',
 *     resource_type: 'document',
 *     resource_id: req.params.id,
 *   });
 *   res.json({ ok: true, audit_id: id });
 * });
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuditError, ErrorCodes } from '../core/errors.js';
import { type AuditEventInput, type LogResult, STRING_LIMITS } from '../core/event.js';
import { badStringReason, normalizeIp } from '../core/validate.js';
import type { AuditLogger } from '../logger-types.js';

declare global {
  // Express declares its request type in this global namespace so that middleware can add
  // properties to it; merging here types `req.audit` in every handler of the app.
  namespace Express {
    interface Request {
      /**
       * Logs an audit event about this request, filling `ip_address`, `user_agent`,
       * `user_id` and `tenant_id` from the request when the event does not set them.
       * Resolves like `audit.log()`. Present once {@link auditMiddleware} has run.
       */
      audit(event: AuditEventInput): Promise<LogResult>;
    }
  }
}

/** Options of {@link auditMiddleware}. */
export interface AuditMiddlewareOptions {
  /**
   * The actor of the request, e.g. `(req) => req.user?.id`. Consulted only when the event
   * has no `user_id` (an explicit `null` in the event is kept: "no actor" is a statement).
   */
  userId?: (req: Request) => string | null | undefined;
  /** The tenant of the request. Consulted only when the event has no `tenant_id`. */
  tenantId?: (req: Request) => string | undefined;
  /**
   * Called with every failed `req.audit()` (invalid event, queue and store both down, a
   * resolver that threw), whether or not the caller awaits the promise. Because it is
   * attached, a fire-and-forget `req.audit(...)` cannot crash the process with an unhandled
   * rejection; callers that await still receive the error. Default: `process.emitWarning`,
   * so failures reach stderr instead of vanishing.
   */
  onError?: (err: unknown, req: Request) => void;
}

/** The fields `req.audit()` fills from the request. */
type RequestFields = Pick<AuditEventInput, 'ip_address' | 'user_agent' | 'user_id' | 'tenant_id'>;

// Node reports an IPv4 client of a dual-stack (`::`) listener as `::ffff:a.b.c.d`.
const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * The client address as Express resolved it (`req.ip` applies the app's `trust proxy`
 * setting to `X-Forwarded-For`), in one form per client:
 *
 * - IPv4-mapped IPv6 (`::ffff:203.0.113.7`) becomes plain IPv4, so one client logs as one
 *   address whether the server listens on `0.0.0.0` or `::`. The core's own normalization
 *   would keep the mapped form (as `::ffff:cb00:7107`), which no one searches for.
 * - Text that is not an IP address becomes null. With `trust proxy` on, `req.ip` is the
 *   client-supplied `X-Forwarded-For` entry; a forged value must not make the audit record
 *   of a legitimate action fail validation.
 */
function clientIp(req: Request): string | null {
  const raw = req.ip;
  if (!raw) return null;
  const ip = IPV4_MAPPED.exec(raw)?.[1] ?? raw;
  return normalizeIp(ip) === null ? null : ip;
}

/**
 * The `User-Agent` header cut to the event's limit: the header is client-controlled and
 * unbounded, and an over-long one must shorten the record, not reject it.
 */
function userAgent(req: Request): string | null {
  const header = req.get('user-agent');
  if (!header) return null;
  let ua = header.slice(0, STRING_LIMITS.user_agent);
  // Never end on half a surrogate pair: a lone surrogate is not storable.
  if (/[\uD800-\uDBFF]$/.test(ua)) ua = ua.slice(0, -1);
  return badStringReason(ua) === null ? ua : null;
}

function requestFields(req: Request, event: AuditEventInput, options: AuditMiddlewareOptions): RequestFields {
  const fields: RequestFields = {};
  if (event.ip_address === undefined) fields.ip_address = clientIp(req);
  if (event.user_agent === undefined) fields.user_agent = userAgent(req);
  if (event.user_id === undefined && options.userId) {
    const userId = options.userId(req);
    if (userId !== undefined) fields.user_id = userId;
  }
  if (event.tenant_id === undefined && options.tenantId) {
    const tenantId = options.tenantId(req);
    if (tenantId !== undefined) fields.tenant_id = tenantId;
  }
  return fields;
}

function warn(err: unknown): void {
  process.emitWarning(err instanceof Error ? err : new Error(String(err)), {
    type: 'AuditlineWarning',
    detail: 'req.audit() failed; pass auditMiddleware({ onError }) to handle it',
  });
}

/**
 * Express middleware that adds {@link Express.Request.audit | req.audit(event)} to every
 * request. Mount it before the routes that audit.
 *
 * `req.audit()` fills, when the event does not set them: `ip_address` from `req.ip` (so
 * the app's `trust proxy` setting decides whether `X-Forwarded-For` is believed),
 * `user_agent` from the header (cut to 1,024 characters), `user_id` and `tenant_id` from
 * the resolvers. It returns the logger's promise: await it to fail closed (answer 5xx when
 * the action could not be audited), or leave it to `onError`.
 *
 * @example
 * ```ts
 * app.use(auditMiddleware(audit, {
 *   userId: (req) => req.get('x-user-id'),
 *   onError: (err, req) => console.error('audit failed', req.method, req.path, err),
 * }));
 * ```
 */
export function auditMiddleware(
  audit: Pick<AuditLogger, 'log'>,
  options: AuditMiddlewareOptions = {},
): RequestHandler {
  const onError = options.onError ?? warn;
  const report = (err: unknown, req: Request) => {
    try {
      onError(err, req);
    } catch (hookErr) {
      // A broken error hook must not turn into an unhandled rejection either.
      warn(hookErr);
    }
  };
  return (req: Request, _res: Response, next: NextFunction) => {
    req.audit = (event: AuditEventInput): Promise<LogResult> => {
      let result: Promise<LogResult>;
      try {
        // The event's own fields win: spread it last.
        result = audit.log({ ...requestFields(req, event, options), ...event });
      } catch (err) {
        // A resolver threw: report it through the promise, like every other failure.
        result = Promise.reject(err);
      }
      result.catch((err: unknown) => report(err, req));
      return result;
    };
    next();
  };
}

/** Options of {@link monitoringRouter}. */
export interface MonitoringRouterOptions {
  /** Produces the response body (e.g. the monitoring module's seed-shaped metrics). */
  metrics: () => Promise<unknown>;
  /** Where the endpoint answers. Default `/api/monitoring/audit-metrics`, the seed's path. */
  path?: string;
  /**
   * Called when `metrics()` fails; the client only sees the error code (the message of an
   * unexpected error may describe internals). Default: `process.emitWarning`.
   */
  onError?: (err: unknown, req: Request) => void;
}

/** Path of the seed's metrics endpoint. */
export const AUDIT_METRICS_PATH = '/api/monitoring/audit-metrics';

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

async function respond(
  metrics: () => Promise<unknown>,
  onError: (err: unknown, req: Request) => void,
  req: Request,
  res: Response,
): Promise<void> {
  let body: string;
  try {
    // Serialized here, not by res.json(), so a body JSON cannot encode (a BigInt, a cycle)
    // is answered as a failure too instead of escaping as an unhandled rejection.
    body = JSON.stringify(await metrics()) ?? 'null';
  } catch (err) {
    try {
      onError(err, req);
    } catch {
      // The answer below matters more than a failing error hook.
    }
    const known = err instanceof AuditError && err.statusCode >= 500;
    res.status(known ? err.statusCode : 500).json({
      error: known
        ? { code: err.code, message: err.message }
        : { code: ErrorCodes.INTERNAL, message: 'metrics are unavailable' },
    });
    return;
  }
  res.type('application/json').send(body);
}

/**
 * Serves `GET /api/monitoring/audit-metrics` (and `HEAD`) with `await options.metrics()` as
 * JSON. On failure it answers `{ error: { code, message } }` with status 500, or the
 * catalogue status of an {@link AuditError} of the server class (503 when a backend is
 * unavailable, so a load balancer can tell "down" from "broken").
 *
 * It is mounted like a Router (`app.use(monitoringRouter(...))`) but is a plain request
 * handler that passes every other request on: creating an `express.Router()` would need
 * express at run time, which this optional integration does not load.
 *
 * @example
 * ```ts
 * app.use(monitoringRouter({ metrics: () => monitoring.auditMetrics() }));
 * // curl http://127.0.0.1:3000/api/monitoring/audit-metrics
 * ```
 */
export function monitoringRouter(options: MonitoringRouterOptions): RequestHandler {
  const path = trimSlash(options.path ?? AUDIT_METRICS_PATH);
  const onError = options.onError ?? ((err: unknown) => process.emitWarning(String(err), 'AuditlineWarning'));
  return (req: Request, res: Response, next: NextFunction) => {
    // req.path is relative to the mount point, so app.use('/x', router) serves /x/<path>.
    // Express matches routes case-insensitively and ignores a trailing slash by default.
    if (
      (req.method !== 'GET' && req.method !== 'HEAD') ||
      trimSlash(req.path).toLowerCase() !== path.toLowerCase()
    ) {
      next();
      return;
    }
    // Metrics are a live reading: a cached copy would hide an outage.
    res.set('Cache-Control', 'no-store');
    void respond(options.metrics, onError, req, res);
  };
}
