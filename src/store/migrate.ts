/**
 * The migration runner shared by both adapters: numbered files in
 * `postgres/migrations/NNNNNN_name.sql`, applied in order, each in its own transaction,
 * recorded in `<schema>.schema_migrations`.
 *
 * Two processes may migrate at once: every transaction first takes
 * `pg_advisory_xact_lock`, so the second waits, then sees the version already recorded and
 * skips it. Only transaction-scoped locks and no session state (no SET, no session
 * advisory locks, no prepared statement names) are used, so this works through a
 * transaction-mode pooler (PgBouncer, Supabase Supavisor on port 6543) as well as on a
 * direct connection. Nothing here needs a direct connection; a pooler's statement or
 * query timeout must only be long enough for the longest migration.
 */
import { readdir, readFile } from 'node:fs/promises';
import { AuditError, ErrorCodes } from '../core/errors.js';
import { checkSchemaName } from './sql.js';

/** What the runner needs from a connection: one transaction at a time. */
export interface SqlTransaction {
  /** Runs one parameterized statement. */
  query<R>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs a script of several statements without parameters. */
  exec(script: string): Promise<void>;
}

export type RunInTransaction = <T>(fn: (tx: SqlTransaction) => Promise<T>) => Promise<T>;

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  /** Text with the `{{schema}}` placeholder still in it. */
  sql: string;
}

// Resolved relative to this module, so it works from src/ (tsx) and dist/ (copy-assets).
const MIGRATIONS_DIR = new URL('./postgres/migrations/', import.meta.url);

let cached: Promise<Migration[]> | null = null;

/** The migration files, sorted by version (read once per process). */
export function loadMigrations(): Promise<Migration[]> {
  cached ??= (async () => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
    return Promise.all(
      files.map(async (f) => ({
        version: Number(f.slice(0, 6)),
        name: f.slice(7, -4),
        sql: await readFile(new URL(f, MIGRATIONS_DIR), 'utf8'),
      })),
    );
  })();
  return cached;
}

/** Substitutes the schema placeholder; the name is checked to be a plain identifier first. */
export function renderMigration(sql: string, schema: string): string {
  checkSchemaName(schema);
  return sql.replaceAll('{{schema}}', schema);
}

/** Applies every pending migration to `schema`; returns the versions this call applied. */
export async function migrate(transaction: RunInTransaction, schema: string): Promise<number[]> {
  checkSchemaName(schema);
  const lockKey = `auditline:migrate:${schema}`;
  const lock = (tx: SqlTransaction) => tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockKey]);
  await transaction(async (tx) => {
    // Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still fail on the catalog's
    // unique index when two sessions create the same name at the same instant.
    await lock(tx);
    await tx.exec(
      `CREATE SCHEMA IF NOT EXISTS "${schema}";
       CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       );`,
    );
  });
  const applied: number[] = [];
  for (const m of await loadMigrations()) {
    try {
      const did = await transaction(async (tx) => {
        await lock(tx);
        const done = await tx.query(`SELECT 1 FROM "${schema}".schema_migrations WHERE version = $1`, [
          m.version,
        ]);
        if (done.length > 0) return false;
        await tx.exec(renderMigration(m.sql, schema));
        await tx.query(`INSERT INTO "${schema}".schema_migrations (version, name) VALUES ($1, $2)`, [
          m.version,
          m.name,
        ]);
        return true;
      });
      if (did) applied.push(m.version);
    } catch (err) {
      throw new AuditError(ErrorCodes.MIGRATION, `migration ${m.version}_${m.name} failed`, { cause: err });
    }
  }
  return applied;
}
