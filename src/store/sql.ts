/**
 * SQL text and row conversion shared by the PostgreSQL and PGlite adapters, so both run
 * exactly the same statements. Values are written as text and read back as one JSON text
 * per row: the two drivers parse types differently (int8, timestamptz, jsonb, arrays) and
 * decode strings differently; text does not, and the read-back form is what the event hash
 * is verified against.
 */

import { AuditError, ErrorCodes } from '../core/errors.js';
import type { AuditEvent, JsonObject } from '../core/event.js';
import { normalizeIp, normalizeTimestamp } from '../core/validate.js';
import type { EventFilter, PageRequest } from './port.js';

const IDENT_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/** Returns the schema name when it is a plain lower-case identifier; throws otherwise. */
export function checkSchemaName(schema: string): string {
  if (!IDENT_RE.test(schema)) {
    throw new AuditError(ErrorCodes.CONFIG, `schema must be a lower-case SQL identifier, got "${schema}"`);
  }
  return schema;
}

/** Columns written by `append`, in the order of {@link eventToTextRow}. */
export const INSERT_COLUMNS = [
  'id',
  'tenant_id',
  'user_id',
  'resource_type',
  'resource_id',
  'event_type',
  'event_category',
  'description',
  'metadata',
  'ip_address',
  'user_agent',
  'created_at',
  'producer_id',
  'producer_seq',
  'hash',
  'block_id',
  'leaf_index',
] as const;

/** SQL type of each insert column, for casts from text. */
const COLUMN_TYPES: Record<(typeof INSERT_COLUMNS)[number], string> = {
  id: 'uuid',
  tenant_id: 'text',
  user_id: 'text',
  resource_type: 'text',
  resource_id: 'text',
  event_type: 'text',
  event_category: 'text',
  description: 'text',
  metadata: 'jsonb',
  ip_address: 'inet',
  user_agent: 'text',
  created_at: 'timestamptz',
  producer_id: 'text',
  producer_seq: 'int8',
  hash: 'bytea',
  block_id: 'uuid',
  leaf_index: 'int4',
};

/**
 * An event with its place in the chain: the block its flush appends and its leaf position
 * there (both null when blocks are disabled, which only the benchmark does).
 */
export interface PlacedEvent {
  event: AuditEvent;
  blockId: string | null;
  leafIndex: number | null;
}

/** An event as one text value (or null) per {@link INSERT_COLUMNS} entry; hash stays hex. */
export function eventToTextRow({ event: e, blockId, leafIndex }: PlacedEvent): (string | null)[] {
  return [
    e.id,
    e.tenant_id,
    e.user_id,
    e.resource_type,
    e.resource_id,
    e.event_type,
    e.event_category,
    e.description,
    JSON.stringify(e.metadata),
    e.ip_address,
    e.user_agent,
    e.created_at,
    e.producer_id,
    e.producer_seq === null ? null : String(e.producer_seq),
    e.hash,
    blockId,
    leafIndex === null ? null : String(leafIndex),
  ];
}

/** Casts a text expression to a column's type (hash travels as hex text). */
function castFromText(column: (typeof INSERT_COLUMNS)[number], expr: string): string {
  return column === 'hash' ? `decode(${expr}, 'hex')` : `${expr}::${COLUMN_TYPES[column]}`;
}

/**
 * Events sorted by id so that concurrent appends of overlapping batches take row locks in
 * the same order: ON CONFLICT waits on an in-flight duplicate instead of deadlocking.
 */
export function sortedById(events: readonly AuditEvent[]): AuditEvent[] {
  return [...events].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * One-statement idempotent insert: each parameter `$n` is a text[] holding one column of
 * the batch (see {@link eventToTextColumns}). Returns one row per inserted event.
 */
export function unnestInsertSql(schema: string): string {
  const params = INSERT_COLUMNS.map((_c, i) => `$${i + 1}::text[]`).join(', ');
  const select = INSERT_COLUMNS.map((c) => castFromText(c, `u.${c}`)).join(', ');
  return (
    `INSERT INTO "${schema}".audit_logs (${INSERT_COLUMNS.join(', ')}) ` +
    `SELECT ${select} FROM unnest(${params}) AS u(${INSERT_COLUMNS.join(', ')}) ` +
    'ON CONFLICT DO NOTHING'
  );
}

/** The batch transposed to one text array per column, the parameters of {@link unnestInsertSql}. */
export function eventToTextColumns(events: readonly PlacedEvent[]): (string | null)[][] {
  const columns: (string | null)[][] = INSERT_COLUMNS.map(() => new Array(events.length));
  events.forEach((e, r) => {
    eventToTextRow(e).forEach((v, c) => {
      (columns[c] as (string | null)[])[r] = v;
    });
  });
  return columns;
}

/** DDL of a transaction-local staging table with every insert column as text. */
export function stagingTableSql(table: string): string {
  const cols = INSERT_COLUMNS.map((c) => `${c} text`).join(', ');
  return `CREATE TEMP TABLE ${table} (${cols}) ON COMMIT DROP`;
}

/** Moves a staging table (see {@link stagingTableSql}) into audit_logs, skipping known ids. */
export function insertFromStagingSql(schema: string, table: string): string {
  const select = INSERT_COLUMNS.map((c) => castFromText(c, `s.${c}`)).join(', ');
  return (
    `INSERT INTO "${schema}".audit_logs (${INSERT_COLUMNS.join(', ')}) ` +
    `SELECT ${select} FROM ${table} AS s ORDER BY s.id ON CONFLICT DO NOTHING`
  );
}

/** Creates (if missing) the partitions for the given ISO instants; `$1` is a text[]. */
export function ensurePartitionsSql(schema: string): string {
  return `SELECT "${schema}".ensure_audit_partitions($1::text[]::timestamptz[])`;
}

/** Length of the `YYYY-MM` prefix of an ISO timestamp, all that {@link monthOf} reads. */
export const MONTH_PREFIX_CHARS = 7;

/** First instant of the UTC month of an ISO timestamp, e.g. `2026-11-01T00:00:00.000Z`. */
export function monthOf(iso: string): string {
  return `${iso.slice(0, MONTH_PREFIX_CHARS)}-01T00:00:00.000Z`;
}

/**
 * Read-back select list: the whole row as ONE JSON array text. Both drivers then hand back
 * the same string, and no value is ever decoded on its own: PGlite decodes each value with
 * a default `TextDecoder`, which silently drops a leading U+FEFF (found by the hash
 * round-trip property test); inside a JSON array no value starts the text.
 */
export const SELECT_LIST = `json_build_array(${[
  'id',
  'tenant_id',
  'user_id',
  'resource_type',
  'resource_id',
  'event_type',
  'event_category',
  'description',
  'metadata',
  // host() drops the netmask; rowToEvent normalizes its text as validation did.
  'host(ip_address)',
  'user_agent',
  // Exact: extract() returns numeric (PostgreSQL >= 14), and created_at has ms precision.
  '(extract(epoch FROM created_at) * 1000)::int8',
  'producer_id',
  'producer_seq',
  "encode(hash, 'hex')",
].join(', ')})::text AS row`;

/** A row as selected by the read-back queries. */
export interface EventRow {
  row: string;
}

type RowArray = [
  string,
  string,
  string | null,
  string | null,
  string | null,
  string,
  string,
  string | null,
  JsonObject,
  string | null,
  string | null,
  number,
  string | null,
  number | null,
  string,
];

/** Converts a selected row back to exactly the {@link AuditEvent} that was appended. */
export function rowToEvent({ row }: EventRow): AuditEvent {
  const [
    id,
    tenant_id,
    user_id,
    resource_type,
    resource_id,
    event_type,
    event_category,
    description,
    metadata,
    ip,
    user_agent,
    createdMs,
    producer_id,
    producer_seq,
    hash,
  ] = JSON.parse(row) as RowArray;
  return {
    id,
    tenant_id,
    user_id,
    resource_type,
    resource_id,
    event_type,
    event_category,
    description,
    metadata,
    // host() may print another form of the same address (e.g. a dotted IPv4 tail).
    ip_address: ip === null ? null : normalizeIp(ip),
    user_agent,
    created_at: new Date(createdMs).toISOString(),
    producer_id,
    producer_seq,
    hash,
  };
}

/** A position in (created_at, id) order. */
interface Position {
  createdAt: string;
  id: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The opaque cursor of the page that ends at this event. */
export function encodeCursor(e: Pick<AuditEvent, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([e.created_at, e.id]), 'utf8').toString('base64url');
}

function invalidQuery(message: string): AuditError {
  return new AuditError(ErrorCodes.INVALID_QUERY, message);
}

/** @throws AuditError `AUDIT_ERR_INVALID_QUERY` when the cursor was not made by {@link encodeCursor}. */
export function decodeCursor(cursor: string): Position {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidQuery('malformed cursor');
  }
  if (
    !Array.isArray(value) ||
    value.length !== 2 ||
    typeof value[0] !== 'string' ||
    typeof value[1] !== 'string' ||
    normalizeTimestamp(value[0]) !== value[0] ||
    !UUID_RE.test(value[1])
  ) {
    throw invalidQuery('malformed cursor');
  }
  return { createdAt: value[0], id: value[1] };
}

function timeBound(name: string, value: string): string {
  const t = normalizeTimestamp(value);
  if (t === null) throw invalidQuery(`${name} must be an ISO-8601 timestamp with a time zone`);
  return t;
}

export interface Statement {
  text: string;
  params: unknown[];
}

/** A page of {@link StoreAdapter.query}: fetches `limit + 1` rows to learn whether more follow. */
export function pageQuery(schema: string, filter: EventFilter, page: PageRequest): Statement {
  if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > 1000) {
    throw invalidQuery('limit must be an integer from 1 to 1000');
  }
  if (typeof filter.tenant_id !== 'string' || filter.tenant_id === '') {
    throw invalidQuery('tenant_id is required');
  }
  const desc = (page.order ?? 'desc') === 'desc';
  const params: unknown[] = [filter.tenant_id];
  const where = ['tenant_id = $1'];
  for (const key of ['user_id', 'resource_type', 'resource_id', 'event_type', 'event_category'] as const) {
    const v = filter[key];
    if (v !== undefined) {
      params.push(v);
      where.push(`${key} = $${params.length}`);
    }
  }
  addRange(where, params, filter.from, filter.to);
  if (page.cursor) {
    const pos = decodeCursor(page.cursor);
    params.push(pos.createdAt, pos.id);
    const n = params.length;
    where.push(`(created_at, id) ${desc ? '<' : '>'} ($${n - 1}::timestamptz, $${n}::uuid)`);
  }
  params.push(page.limit + 1);
  const dir = desc ? 'DESC' : 'ASC';
  return {
    text:
      `SELECT ${SELECT_LIST} FROM "${schema}".audit_logs WHERE ${where.join(' AND ')} ` +
      `ORDER BY created_at ${dir}, id ${dir} LIMIT $${params.length}`,
    params,
  };
}

function addRange(where: string[], params: unknown[], from?: string, to?: string): void {
  if (from !== undefined) {
    params.push(timeBound('from', from));
    where.push(`created_at >= $${params.length}::timestamptz`);
  }
  if (to !== undefined) {
    params.push(timeBound('to', to));
    where.push(`created_at < $${params.length}::timestamptz`);
  }
}

/** One chunk of {@link StoreAdapter.scan}, all tenants, ascending, after `after` if given. */
export function scanQuery(
  schema: string,
  chunkSize: number,
  range: { from?: string; to?: string },
  after: Position | null,
): Statement {
  const params: unknown[] = [];
  const where: string[] = [];
  addRange(where, params, range.from, range.to);
  if (after) {
    params.push(after.createdAt, after.id);
    const n = params.length;
    where.push(`(created_at, id) > ($${n - 1}::timestamptz, $${n}::uuid)`);
  }
  params.push(chunkSize);
  return {
    text:
      `SELECT ${SELECT_LIST} FROM "${schema}".audit_logs ` +
      `${where.length > 0 ? `WHERE ${where.join(' AND ')} ` : ''}` +
      `ORDER BY created_at, id LIMIT $${params.length}`,
    params,
  };
}
