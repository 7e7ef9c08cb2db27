/**
 * The store port: where events end up. Adapters (PostgreSQL via `pg`, PGlite) run the
 * same numbered migrations and pass `test/conformance/store.test.ts`.
 */
import type { AuditEvent } from '../core/event.js';
import type { IntegrityStore } from './integrity-port.js';

export interface AppendResult {
  /** Rows actually inserted by this call. */
  inserted: number;
  /** Events skipped because a row with the same id (and created_at) already existed. */
  duplicates: number;
}

/** Filter of {@link StoreAdapter.query}; every query is scoped by tenant. */
export interface EventFilter {
  tenant_id: string;
  user_id?: string;
  resource_type?: string;
  resource_id?: string;
  event_type?: string;
  event_category?: string;
  /** Inclusive lower bound on created_at (ISO-8601). */
  from?: string;
  /** Exclusive upper bound on created_at (ISO-8601). */
  to?: string;
}

export interface PageRequest {
  /** 1..1000. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string | null;
  /** Default `desc` (newest first). */
  order?: 'asc' | 'desc';
}

export interface Page {
  events: AuditEvent[];
  /** Pass back to get the next page; null on the last page. */
  nextCursor: string | null;
}

export interface StoreAdapter {
  /** Applies pending migrations; safe when several processes migrate at once. */
  migrate(): Promise<void>;
  /**
   * Inserts events idempotently: exactly one row per event id, however often the same
   * event is appended. All-or-nothing per call.
   */
  append(events: readonly AuditEvent[]): Promise<AppendResult>;
  /** One page of events matching the filter, ordered by (created_at, id). */
  query(filter: EventFilter, page: PageRequest): Promise<Page>;
  /** Every stored event (all tenants) in (created_at, id) order, read in chunks. */
  scan(options?: { from?: string; to?: string; chunkSize?: number }): AsyncIterable<AuditEvent>;
  /** Number of rows stored (all tenants). */
  count(): Promise<number>;
  /** Resolves when the database answers; rejects otherwise. */
  ping(): Promise<void>;
  /** Blocks, leaves, proofs and retention (see `integrity-port.ts`). */
  readonly integrity: IntegrityStore;
  close(): Promise<void>;
}
