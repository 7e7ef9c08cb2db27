/**
 * The behaviour both SQL adapters share: migrations, partition upkeep before `append`,
 * paging, scanning and counting. Subclasses supply a connection (`run`, `transaction`) and
 * the fastest insert their driver allows (`insertSorted`).
 */

import { AuditError, ErrorCodes } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import { migrate, type RunInTransaction, type SqlTransaction } from './migrate.js';
import type { AppendResult, EventFilter, Page, PageRequest, StoreAdapter } from './port.js';
import {
  checkSchemaName,
  type EventRow,
  encodeCursor,
  ensurePartitionsSql,
  monthOf,
  pageQuery,
  rowToEvent,
  scanQuery,
  sortedById,
} from './sql.js';

export abstract class SqlStore implements StoreAdapter {
  protected readonly schema: string;
  /** UTC months (`YYYY-MM-01T…Z`) whose partition is known to exist. */
  private readonly knownMonths = new Set<string>();
  private closed = false;

  protected constructor(schema: string) {
    this.schema = checkSchemaName(schema);
  }

  /** One statement outside any explicit transaction. */
  protected abstract run<R>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  protected abstract transaction: RunInTransaction;
  /**
   * Inserts events (sorted by id, partitions present) in one transaction with
   * ON CONFLICT DO NOTHING; resolves to the number of rows actually inserted.
   */
  protected abstract insertSorted(events: AuditEvent[]): Promise<number>;
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
    const inserted = await this.insertSorted(sortedById(events));
    return { inserted, duplicates: events.length - inserted };
  }

  /**
   * Creates the partitions of every month in the batch that this process has not seen yet,
   * in its own short transaction (DDL on the parent must not sit inside the insert
   * transaction, where it would hold its lock for the whole COPY).
   */
  private async ensurePartitions(events: readonly AuditEvent[]): Promise<void> {
    const missing = new Set<string>();
    for (const e of events) {
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
