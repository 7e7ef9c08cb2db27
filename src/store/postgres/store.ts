/**
 * PostgreSQL adapter over `pg` (a Pool) and `pg-copy-streams`.
 *
 * Append throughput, measured with `npx tsx bench/store-append.ts` (100k events, batches of
 * 1000, local PostgreSQL 15, shared 2-core VM, one connection, all four indexes; each
 * method run twice per invocation, two invocations; new rows / all-duplicate re-delivery):
 *   copy   (temp table + COPY + INSERT … SELECT … ON CONFLICT): 43.5k, 31.5k, 30.1k, 22.2k rows/s
 *                                                               / 73k, 46k, 54k, 43k rows/s
 *   unnest (one INSERT … SELECT FROM unnest(text[] × 15)):     40.0k, 30.1k, 23.7k, 22.9k rows/s
 *                                                               / 61k, 66k, 33k, 45k rows/s
 * The machine was shared, so the numbers are noisy; COPY was faster on average (~32k vs ~29k).
 *
 * Connections: everything runs in short transactions with transaction-scoped locks and no
 * session state, so `connectionString` may point at a transaction-mode pooler (PgBouncer,
 * Supabase's port 6543). TLS follows the URL: `?sslmode=require` (or `verify-full`, with
 * `sslrootcert=…`) is honoured by `pg`; an explicit `ssl` option overrides it.
 */
import pg from 'pg';
import type { AppendTx } from '../integrity-write.js';
import type { RunInTransaction, SqlTransaction } from '../migrate.js';
import { SqlStore, type SqlStoreIntegrityOptions } from '../sql-store.js';
import { type AppendMethod, appendByCopy, appendByStrictCopy, appendByUnnest } from './append.js';

export interface PostgresStoreOptions extends SqlStoreIntegrityOptions {
  /** `postgres://user:pass@host:port/db?sslmode=require`. */
  connectionString: string;
  /** Schema of auditline's tables (a lower-case identifier). Default `auditline`. */
  schema?: string;
  /** Connections in the pool. Default 4: one batch in flight per connection. */
  poolSize?: number;
  /** TLS settings passed to `pg`; when absent, `sslmode` in the URL decides. */
  ssl?: pg.ConnectionConfig['ssl'];
  /** Insert strategy; default {@link DEFAULT_APPEND_METHOD}. Exposed for the benchmark. */
  appendMethod?: AppendMethod;
  /**
   * How long to wait for a connection before failing. Default 3000 ms: `ping()` and
   * readiness checks must answer promptly when PostgreSQL is down, not hang.
   */
  connectionTimeoutMs?: number;
}

/** The fastest measured method (see the numbers at the top of this file). */
export const DEFAULT_APPEND_METHOD: AppendMethod = 'copy';

/** {@link StoreAdapter} on PostgreSQL. Call `migrate()` once before use. */
export class PostgresStore extends SqlStore {
  private readonly pool: pg.Pool;
  private readonly appendMethod: AppendMethod;

  constructor(options: PostgresStoreOptions) {
    super(options.schema ?? 'auditline', options);
    this.appendMethod = options.appendMethod ?? DEFAULT_APPEND_METHOD;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 3000,
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    });
    // An idle client that loses its server emits 'error' on the pool; without a listener
    // that would crash the process. The next checkout simply gets a new connection.
    this.pool.on('error', () => {});
  }

  protected async run<R>(text: string, params?: unknown[]): Promise<R[]> {
    const res = await this.pool.query(text, params);
    return res.rows as R[];
  }

  private async withTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // pg-pool removes its idle error listener while a client is checked out; a server that
    // terminates the connection between two statements (57P01 on shutdown) then emits
    // 'error' on the client with no listener, which kills the process (found by the
    // PostgreSQL-outage fault test: the worker died). The next statement fails anyway.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone or unusable: do not return it to the pool
      }
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  protected transaction: RunInTransaction = (fn) =>
    this.withTransaction((client) => {
      const tx: SqlTransaction = {
        query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
        exec: async (script) => {
          await client.query(script);
        },
      };
      return fn(tx);
    });

  protected appendTransaction<T>(fn: (tx: AppendTx) => Promise<T>): Promise<T> {
    const insert = this.appendMethod === 'copy' ? appendByCopy : appendByUnnest;
    return this.withTransaction((client) =>
      fn({
        query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
        insertRows: (rows) => insert(client, this.schema, rows),
        insertRowsStrict:
          this.appendMethod === 'copy' ? (rows) => appendByStrictCopy(client, this.schema, rows) : undefined,
      }),
    );
  }

  protected release(): Promise<void> {
    return this.pool.end();
  }
}
