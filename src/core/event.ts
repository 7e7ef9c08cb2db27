/**
 * Event model, schema version 1: the input an application passes to `log()`, and the
 * normalized, hashed record that travels through the queue into `audit_logs`.
 */

/** A JSON value as stored in `metadata`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What an application passes to `audit.log(event)`. Only `event_type` is required. */
export interface AuditEventInput {
  /** UUID (v7 recommended); the idempotency key. Generated when absent. */
  id?: string;
  /** Defaults to `"default"`. Every query is scoped by it. */
  tenant_id?: string;
  /** The actor. */
  user_id?: string | null;
  resource_type?: string | null;
  resource_id?: string | null;
  /** What happened, e.g. `document.update`. Required. */
  event_type: string;
  /** `critical`, `info` (default) or another configured category. */
  event_category?: string;
  description?: string | null;
  /** A JSON object: at most 16 levels deep and 32 KiB serialized by default. */
  metadata?: JsonObject | null;
  ip_address?: string | null;
  user_agent?: string | null;
  /** ISO-8601 string, epoch milliseconds or Date. Defaults to now; millisecond precision. */
  created_at?: string | number | Date;
}

/** A validated, normalized event with its hash: what workers write to PostgreSQL. */
export interface AuditEvent {
  id: string;
  tenant_id: string;
  user_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  event_type: string;
  event_category: string;
  description: string | null;
  metadata: JsonObject;
  ip_address: string | null;
  user_agent: string | null;
  /** ISO-8601 UTC with milliseconds, e.g. `2026-11-26T16:08:21.123Z`. */
  created_at: string;
  /** The logger instance that produced the event (completeness checks), or null. */
  producer_id: string | null;
  /** Position of the event in its producer's sequence, starting at 1, or null. */
  producer_seq: number | null;
  /** Hex SHA-256 of the canonical form (see `canonical.ts`). */
  hash: string;
}

/** The fields an `AuditEvent` has before its hash is computed. */
export type UnhashedEvent = Omit<AuditEvent, 'hash'>;

/** Schema version of the canonical form; part of the hashed data. */
export const EVENT_SCHEMA_VERSION = 1;

/** The fields of the input type, in declaration order (used to reject unknown fields). */
export const INPUT_FIELDS = [
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
] as const;

/** Maximum length in UTF-16 code units of each string field. */
export const STRING_LIMITS = {
  tenant_id: 128,
  user_id: 256,
  resource_type: 128,
  resource_id: 256,
  event_type: 128,
  event_category: 64,
  description: 4096,
  user_agent: 1024,
  ip_address: 64,
} as const;

/** Outcome of handing an event to auditline. */
export type LogOutcome = 'queued' | 'spilled' | 'direct' | 'dropped';

/** What `log()` resolves to. */
export interface LogResult {
  id: string;
  hash: string;
  outcome: LogOutcome;
}
