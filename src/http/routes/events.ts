/**
 * `POST /v1/events` (ingest one event or a batch) and `GET /v1/events` (query with filters
 * and a cursor). Ingest does not JSON-schema-validate the body: the logger validates every
 * event anyway, with the error codes clients rely on, and validating twice costs throughput.
 */
import type { FastifyInstance } from 'fastify';
import { AuditError, ErrorCodes, type FieldIssue } from '../../core/errors.js';
import { STRING_LIMITS } from '../../core/event.js';
import { badStringReason, normalizeTimestamp } from '../../core/validate.js';
import type { AuditLogger } from '../../logger-types.js';
import type { EventFilter, PageRequest, StoreAdapter } from '../../store/port.js';

/** What the event routes use: the logger validates and enqueues, the store answers queries. */
export interface EventRoutesDeps {
  logger: AuditLogger;
  store: StoreAdapter;
  /** Most events accepted in one POST. */
  maxBatchEvents: number;
}

/** Serializer schema of the 202 answer (fast-json-stringify instead of JSON.stringify). */
const acceptedSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      hash: { type: 'string' },
      outcome: { type: 'string' },
    },
    required: ['id', 'hash', 'outcome'],
  },
} as const;

/** Largest page a client may ask for; the store port accepts 1..1000. */
export const MAX_QUERY_LIMIT = 1000;
const DEFAULT_QUERY_LIMIT = 100;
const MAX_CURSOR_LENGTH = 1024;

const STRING_FILTERS = ['user_id', 'resource_type', 'resource_id', 'event_type', 'event_category'] as const;
const QUERY_PARAMS = new Set<string>([
  'tenant_id',
  ...STRING_FILTERS,
  'from',
  'to',
  'limit',
  'cursor',
  'order',
]);

function timestampParam(raw: string): string | null {
  // Epoch milliseconds as digits, or ISO-8601 with a time zone (the same rule as created_at).
  return normalizeTimestamp(/^\d+$/.test(raw) ? Number(raw) : raw);
}

/**
 * Parses the query string of `GET /v1/events` into a store filter and page request.
 * @throws AuditError `AUDIT_ERR_INVALID_QUERY` listing every bad parameter.
 */
export function parseEventQuery(query: Record<string, unknown>): { filter: EventFilter; page: PageRequest } {
  const issues: FieldIssue[] = [];
  const bad = (field: string, message: string) =>
    issues.push({ field, code: ErrorCodes.INVALID_QUERY, message });
  const values = new Map<string, string>();
  for (const [key, value] of Object.entries(query)) {
    if (!QUERY_PARAMS.has(key)) bad(key, 'unknown query parameter');
    else if (typeof value !== 'string') bad(key, 'must be given once');
    else {
      // A NUL would make PostgreSQL reject the query itself: report it as the client's error.
      const reason = badStringReason(value);
      if (reason) bad(key, reason);
      else values.set(key, value);
    }
  }

  const filter: EventFilter = { tenant_id: values.get('tenant_id') ?? 'default' };
  if (filter.tenant_id === '') bad('tenant_id', 'must not be empty');
  else if (filter.tenant_id.length > STRING_LIMITS.tenant_id) bad('tenant_id', 'too long');
  for (const key of STRING_FILTERS) {
    const v = values.get(key);
    if (v === undefined) continue;
    if (v.length > STRING_LIMITS[key]) bad(key, `longer than ${STRING_LIMITS[key]} characters`);
    else filter[key] = v;
  }
  for (const key of ['from', 'to'] as const) {
    const v = values.get(key);
    if (v === undefined) continue;
    const ts = timestampParam(v);
    if (ts === null) bad(key, 'must be an ISO-8601 timestamp with a time zone, or epoch milliseconds');
    else filter[key] = ts;
  }

  const page: PageRequest = { limit: DEFAULT_QUERY_LIMIT };
  const limit = values.get('limit');
  if (limit !== undefined) {
    const n = /^\d{1,7}$/.test(limit) ? Number(limit) : Number.NaN;
    if (!(n >= 1 && n <= MAX_QUERY_LIMIT)) bad('limit', `must be an integer from 1 to ${MAX_QUERY_LIMIT}`);
    else page.limit = n;
  }
  const cursor = values.get('cursor');
  if (cursor !== undefined) {
    if (cursor === '' || cursor.length > MAX_CURSOR_LENGTH) bad('cursor', 'is not a cursor from this API');
    else page.cursor = cursor;
  }
  const order = values.get('order');
  if (order !== undefined) {
    if (order !== 'asc' && order !== 'desc') bad('order', 'must be asc or desc');
    else page.order = order;
  }

  if (issues.length > 0) {
    const first = issues[0] as FieldIssue;
    throw new AuditError(ErrorCodes.INVALID_QUERY, `invalid query: ${first.field}: ${first.message}`, {
      details: { issues },
    });
  }
  return { filter, page };
}

/** Registers the event routes on an (already authenticated) `/v1` scope. */
export function eventRoutes(app: FastifyInstance, deps: EventRoutesDeps): void {
  const { logger, store, maxBatchEvents } = deps;

  app.post('/events', { schema: { response: { 202: acceptedSchema } } }, async (request, reply) => {
    const body = request.body;
    // No body at all: Fastify ran no parser because no Content-Type was sent.
    if (body === undefined) {
      throw new AuditError(
        ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
        'the body must be JSON sent with Content-Type: application/json',
      );
    }
    let events: readonly unknown[];
    if (Array.isArray(body)) {
      if (body.length === 0) throw new AuditError(ErrorCodes.BATCH_EMPTY, 'the batch holds no events');
      if (body.length > maxBatchEvents) {
        throw new AuditError(
          ErrorCodes.BATCH_TOO_LARGE,
          `the batch holds ${body.length} events; the limit is ${maxBatchEvents}`,
          { details: { limit: maxBatchEvents, received: body.length } },
        );
      }
      events = body;
    } else {
      events = [body];
    }
    // logMany validates all events before queueing any: one invalid event rejects the request.
    const results = await logger.logMany(events);
    return reply.code(202).send(results);
  });

  app.get('/events', async (request) => {
    const { filter, page } = parseEventQuery(request.query as Record<string, unknown>);
    const result = await store.query(filter, page);
    return { events: result.events, next_cursor: result.nextCursor };
  });
}
