/**
 * What every part of a run shares: options, sizes, the admin connections, the cleanup
 * registry, and the steps several parts take (migrate a schema, start workers, count rows).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Cleanup } from './cleanup.js';
import type { BenchOptions, ScaleSettings } from './options.js';
import { type CliProcess, distDir, startCli } from './processes.js';

export interface PartContext {
  opts: BenchOptions;
  scale: ScaleSettings;
  cleanup: Cleanup;
  redis: Redis;
  db: pg.Client;
  /** Index of the current run (0-based), part of every name. */
  run: number;
  log(line: string): void;
}

export interface PartNames {
  schema: string;
  prefix: string;
  streamKey: string;
  /**
   * The spill journal of this part's producers and server. Never the default
   * (`./auditline-data/journal`): a journal replays into whatever queue the next process
   * using it is configured with, so a leftover would leak into someone else's stream.
   */
  journalDir: string;
}

/** The schema, key prefix and journal directory of one part of one run; all registered for removal. */
export function names(ctx: PartContext, part: string): PartNames {
  const schema = ctx.cleanup.schema(`bench_${ctx.opts.runId}_${ctx.run}_${part}`);
  const prefix = ctx.cleanup.prefix(`bench:${ctx.opts.runId}:${ctx.run}:${part}`);
  const journalDir = ctx.cleanup.dir(
    join(tmpdir(), `auditline-bench-${ctx.opts.runId}-${ctx.run}-${part}-journal`),
  );
  return { schema, prefix, streamKey: `${prefix}:events`, journalDir };
}

/**
 * Creates the schema with the real migrations (tables, partitions, indexes) of the build
 * the workers run, so that table and code always match.
 */
export async function migrateSchema(ctx: PartContext, schema: string): Promise<void> {
  const { PostgresStore } = (await import(
    pathToFileURL(`${distDir()}/store/index.js`).href
  )) as typeof import('../src/store/index.js');
  const store = new PostgresStore({ connectionString: ctx.opts.databaseUrl, schema, poolSize: 1 });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

/** The environment `auditline worker`/`serve` read (config.ts), for one part. */
export function cliEnv(
  ctx: PartContext,
  schema: string,
  prefix: string,
  journalDir?: string,
): Record<string, string> {
  return {
    ...(journalDir ? { AUDITLINE_JOURNAL_DIR: journalDir } : {}),
    REDIS_URL: ctx.opts.redisUrl,
    DATABASE_URL: ctx.opts.databaseUrl,
    AUDITLINE_SCHEMA: schema,
    AUDITLINE_KEY_PREFIX: prefix,
    // The benchmark migrated already; N processes migrating at once would only queue on the lock.
    AUDITLINE_AUTO_MIGRATE: 'false',
  };
}

/** Starts `count` × `auditline worker` and waits until each has started. */
export async function startWorkers(
  ctx: PartContext,
  count: number,
  schema: string,
  prefix: string,
  cpuProfileDir?: string,
): Promise<CliProcess[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      startCli(
        ctx.cleanup,
        ['worker'],
        { ...cliEnv(ctx, schema, prefix), AUDITLINE_CONSUMER_NAME: `bench-worker-${i + 1}` },
        /worker \S+ started/,
        cpuProfileDir,
      ),
    ),
  );
}

export async function countRows(ctx: PartContext, schema: string): Promise<number> {
  const r = await ctx.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}".audit_logs`);
  return Number(r.rows[0]?.n ?? 0);
}

/** Stops processes gracefully, all at once. */
export async function stopAll(procs: readonly CliProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}

/** Largest non-null value, or null. */
export function maxOrNull(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length > 0 ? Math.max(...xs) : null;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
