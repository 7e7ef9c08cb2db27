/**
 * The behaviour both SQL adapters share: migrations, partition upkeep before `append`, the
 * flush with its block (`integrity-write.ts`), paging, scanning, counting and the integrity
 * reads. Subclasses supply a connection (`run`, `transaction`) and the fastest insert their
 * driver allows (`appendTransaction`).
 */

import { AuditError, ErrorCodes } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import type { Signer } from '../core/signing.js';
import type { IntegrityStore } from './integrity-port.js';
import { SqlIntegrity } from './integrity-read.js';
import { type AppendTx, appendFlush, type BlockOptions } from './integrity-write.js';
import { migrate, type RunInTransaction, type SqlTransaction } from './migrate.js';
import type { AppendResult, EventFilter, Page, PageRequest, StoreAdapter } from './port.js';
import {
  checkSchemaName,
  type EventRow,
  encodeCursor,
  ensurePartitionsSql,
  MONTH_PREFIX_CHARS,
  monthOf,
  pageQuery,
  rowToEvent,
  scanQuery,
  sortedById,
} from './sql.js';

/** Integrity options every SQL adapter accepts. */
export interface SqlStoreIntegrityOptions {
  /** Ed25519 signer of block hashes (`createSigner`); blocks are unsigned without it. */
  signer?: Signer | null;
  /**
   * Append a block per flush. Default true. Set false ONLY in `bench/integrity-cost.ts`, to
   * measure the cost of integrity: rows written so belong to no block and `verify` fails.
   */
  blocks?: boolean;
}

export abstract class SqlStore implements StoreAdapter {
  protected readonly schema: string;
  private readonly blockOptions: BlockOptions;
  readonly integrity: IntegrityStore;
  /** UTC months (`YYYY-MM-01T…Z`) whose partition is known to exist. */
  private readonly knownMonths = new Set<string>();
  private closed = false;

  protected constructor(schema: string, options: SqlStoreIntegrityOptions = {}) {
    this.schema = checkSchemaName(schema);
    this.blockOptions = { blocks: options.blocks ?? true, signer: options.signer ?? null };
    this.integrity = new SqlIntegrity(
      this.schema,
      (text, params) => this.run(text, params),
      (fn) => this.transaction(fn),
      options.signer ?? null,
    );
  }

  /** One statement outside any explicit transaction. */
  protected abstract run<R>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  protected abstract transaction: RunInTransaction;
  /**
   * Runs `fn` in one transaction whose `insertRows` is the driver's fastest idempotent bulk
   * insert (ON CONFLICT DO NOTHING): COPY on PostgreSQL, unnest on PGlite.
   */
  protected abstract appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T>;
  /** Releases the connection(s). */
  protected abstract release(): Promise<void>;

  protected assertOpen(): void {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'store is closed');
  }

  async migrate(): Promise<void> {
    this.assertOpen();
    await migrate(this.transaction, this.schema);
  }

  async append(events: readonly AuditEvent[]): Promise<AppendResult> {
    this.assertOpen();
    if (events.length === 0) return { inserted: 0, duplicates: 0 };
    await this.ensurePartitions(events);
    const inserted = await appendFlush(
      (fn) => this.appendTransaction(fn),
      this.schema,
      sortedById(events),
      this.blockOptions,
    );
    return { inserted, duplicates: events.length - inserted };
  }

  /**
   * Creates the partitions of every month in the batch that this process has not seen yet,
   * in its own short transaction (DDL on the parent must not sit inside the insert
   * transaction, where it would hold its lock for the whole COPY).
   */
  private async ensurePartitions(events: readonly AuditEvent[]): Promise<void> {
    const missing = new Set<string>();
    // Neighbouring events almost always share their month: build and look up a month only
    // when the `YYYY-MM` prefix differs from the previous event's, not for every event.
    let prefix = '';
    for (const e of events) {
      if (prefix.length === MONTH_PREFIX_CHARS && e.created_at.startsWith(prefix)) continue;
      prefix = e.created_at.slice(0, MONTH_PREFIX_CHARS);
      const m = monthOf(e.created_at);
      if (!this.knownMonths.has(m)) missing.add(m);
    }
    if (missing.size === 0) return;
    const months = [...missing];
    await this.transaction((tx) => tx.query(ensurePartitionsSql(this.schema), [months]));
    for (const m of months) this.knownMonths.add(m);
  }

  async query(filter: EventFilter, page: PageRequest): Promise<Page> {
    this.assertOpen();
    const st = pageQuery(this.schema, filter, page);
    const rows = await this.run<EventRow>(st.text, st.params);
    const more = rows.length > page.limit;
    const events = (more ? rows.slice(0, page.limit) : rows).map(rowToEvent);
    const last = events[events.length - 1];
    return { events, nextCursor: more && last ? encodeCursor(last) : null };
  }

  async *scan(options: { from?: string; to?: string; chunkSize?: number } = {}): AsyncIterable<AuditEvent> {
    this.assertOpen();
    const chunkSize = options.chunkSize ?? 1000;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) {
      throw new AuditError(ErrorCodes.INVALID_QUERY, 'chunkSize must be a positive integer');
    }
    let after: { createdAt: string; id: string } | null = null;
    for (;;) {
      const st = scanQuery(this.schema, chunkSize, options, after);
      const rows = await this.run<EventRow>(st.text, st.params);
      for (const r of rows) {
        const e = rowToEvent(r);
        after = { createdAt: e.created_at, id: e.id };
        yield e;
      }
      if (rows.length < chunkSize) return;
    }
  }

  async count(): Promise<number> {
    this.assertOpen();
    const rows = await this.run<{ n: string }>(`SELECT count(*)::text AS n FROM "${this.schema}".audit_logs`);
    return Number(rows[0]?.n ?? 0);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    try {
      await this.run('SELECT 1');
    } catch (err) {
      throw new AuditError(ErrorCodes.STORE_UNAVAILABLE, 'database does not answer', { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }
}

export type { SqlTransaction };
