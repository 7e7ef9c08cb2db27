/**
 * Embedded adapter over PGlite (PostgreSQL compiled to WASM): the same migrations and the
 * same SQL as the PostgreSQL adapter (see `../sql.ts`), in a data directory or in memory.
 * Append uses the one-statement unnest insert: PGlite has no COPY FROM STDIN stream, and
 * with one in-process connection there is no network round trip for COPY to save.
 */
import { PGlite } from '@electric-sql/pglite';
import type { AppendTx } from '../integrity-write.js';
import type { RunInTransaction, SqlTransaction } from '../migrate.js';
import { eventToTextColumns, unnestInsertSql } from '../sql.js';
import { SqlStore, type SqlStoreIntegrityOptions } from '../sql-store.js';

export interface PgliteStoreOptions extends SqlStoreIntegrityOptions {
  /** Directory of the database files; in memory (lost on close) when absent. */
  dataDir?: string | null;
  /** Schema of auditline's tables. Default `auditline`. */
  schema?: string;
}

/** {@link StoreAdapter} on PGlite. Call `migrate()` once before use. */
export class PgliteStore extends SqlStore {
  private readonly db: PGlite;

  constructor(options: PgliteStoreOptions = {}) {
    super(options.schema ?? 'auditline', options);
    // PGlite starts its WASM instance here, in the background; queries wait for it.
    this.db = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  }

  protected async run<R>(text: string, params?: unknown[]): Promise<R[]> {
    return (await this.db.query<R>(text, params)).rows;
  }

  protected transaction: RunInTransaction = (fn) =>
    this.db.transaction((t) => {
      const tx: SqlTransaction = {
        query: async <R>(text: string, params?: unknown[]) => (await t.query<R>(text, params)).rows,
        exec: async (script) => {
          await t.exec(script);
        },
      };
      return fn(tx);
    });

  protected appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T> {
    return this.db.transaction((t) =>
      fn({
        query: async <R>(text: string, params?: unknown[]) => (await t.query<R>(text, params)).rows,
        insertRows: async (rows) =>
          (await t.query(unnestInsertSql(this.schema), eventToTextColumns(rows))).affectedRows ?? 0,
      }),
    );
  }

  protected release(): Promise<void> {
    return this.db.close();
  }
}
