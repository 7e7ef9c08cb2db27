/**
 * What every fault-injection test shares: its own throwaway Redis and PostgreSQL (never the
 * shared servers: these tests stop and kill them), worker child processes running the built
 * CLI, a ledger of what `log()` resolved, and the final check every test ends with:
 *
 *   every event whose `log()` resolved `queued`, `spilled` or `direct` is in `audit_logs`
 *   exactly once, and every `dropped` one is counted in an `audit.gap` record.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type pg from 'pg';
import type { LogOutcome, LogResult } from '../../src/core/event.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import { sql } from '../helpers/env.js';
import { type Spawned, spawnCli, waitUntil } from '../helpers/processes.js';
import { startPostgres, startRedis, type ThrowawayServer } from '../helpers/throwaway.js';

export const SCHEMA = 'auditline';
export const PREFIX = 'auditline';
export const STREAM = `${PREFIX}:events`;
export const DEAD = `${PREFIX}:dead`;

/** A throwaway Redis + PostgreSQL pair with the schema migrated, and a temp directory. */
export interface Cluster {
  redis: ThrowawayServer;
  pg: ThrowawayServer;
  /** Temp directory for journals (removed by destroy). */
  dir: string;
  /** Environment for CLI children (workers). */
  env: Record<string, string>;
  workers: Spawned[];
  destroy(): Promise<void>;
}

/** Starts Redis (optionally with an fsync'd append-only file) and PostgreSQL, and migrates. */
export async function startCluster(opts: { redisPersist?: boolean } = {}): Promise<Cluster> {
  const [redis, pgs, dir] = await Promise.all([
    startRedis(opts.redisPersist ? { persist: true } : {}),
    startPostgres(),
    mkdtemp(join(tmpdir(), 'auditline-fault-')),
  ]);
  const store = new PostgresStore({ connectionString: pgs.url, schema: SCHEMA, poolSize: 1 });
  await store.migrate();
  await store.close();
  const workers: Spawned[] = [];
  return {
    redis,
    pg: pgs,
    dir,
    workers,
    env: {
      REDIS_URL: redis.url,
      DATABASE_URL: pgs.url,
      AUDITLINE_SCHEMA: SCHEMA,
      AUDITLINE_KEY_PREFIX: PREFIX,
      // A worker's runtime opens a spill journal too: keep it out of the repository.
      AUDITLINE_JOURNAL_DIR: join(dir, 'worker-journal'),
      AUDITLINE_DATA_DIR: join(dir, 'data'),
      AUDITLINE_VISIBILITY_TIMEOUT_MS: '2000',
    },
    async destroy() {
      for (const w of workers)
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await Promise.all([redis.destroy(), pgs.destroy(), rm(dir, { recursive: true, force: true })]);
    },
  };
}

/** Spawns `auditline worker` against the cluster. */
export function startWorker(c: Cluster, name: string, extra: Record<string, string> = {}): Spawned {
  const w = spawnCli(['worker'], { ...c.env, AUDITLINE_CONSUMER_NAME: name, ...extra });
  c.workers.push(w);
  return w;
}

/** SIGTERMs a worker and waits for it. */
export async function stopWorker(w: Spawned): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await w.exited;
}

/** What `log()` resolved, per event. */
export class Ledger {
  readonly outcomes = new Map<string, LogOutcome>();
  readonly counts: Record<LogOutcome, number> = { queued: 0, spilled: 0, direct: 0, dropped: 0 };
  /** `log()` calls that rejected (a fault test expects none). */
  readonly errors: unknown[] = [];
  private readonly pending = new Set<Promise<void>>();

  record(r: LogResult): void {
    this.outcomes.set(r.id, r.outcome);
    this.counts[r.outcome]++;
  }

  /** Tracks a `log()` call without waiting for it. */
  track(p: Promise<LogResult>): void {
    const t = p.then(
      (r) => this.record(r),
      (err: unknown) => {
        this.errors.push(err);
      },
    );
    this.pending.add(t);
    t.finally(() => this.pending.delete(t));
  }

  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  get written(): number {
    return this.outcomes.size;
  }

  /** Ids that must be in the table. */
  mustBeStored(): string[] {
    return [...this.outcomes].filter(([, o]) => o !== 'dropped').map(([id]) => id);
  }
}

let seq = 0;
/** A valid event input; every `critEvery`-th one is critical. */
export function sampleEvent(tag: string, critEvery = 0) {
  seq++;
  return {
    event_type: 'document.update',
    event_category: critEvery > 0 && seq % critEvery === 0 ? 'critical' : 'info',
    user_id: `user-${seq % 17}`,
    resource_type: 'document',
    resource_id: `doc-${seq}`,
    ip_address: seq % 2 ? '10.0.0.1' : '2001:db8::7',
    metadata: { tag, n: seq },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `log()` at a steady rate (in 20 ms ticks, never waiting for a call to resolve, as a
 * busy service would) until `until()` is true. Returns the number of calls.
 */
export async function produceAtRate(
  log: () => Promise<LogResult>,
  ledger: Ledger,
  perSecond: number,
  until: () => boolean,
): Promise<number> {
  const tickMs = 20;
  const started = Date.now();
  let calls = 0;
  while (!until()) {
    const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
    while (calls < due) {
      ledger.track(log());
      calls++;
    }
    await sleep(tickMs);
  }
  return calls;
}

/** Runs one query on a fresh connection to the cluster's own PostgreSQL at `url`. */
export function query<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  return sql<T>(text, params, url);
}

export async function rowCount(c: Cluster): Promise<number> {
  const [r] = await query<{ n: string }>(c.pg.url, `SELECT count(*) AS n FROM ${SCHEMA}.audit_logs`);
  return Number(r?.n ?? 0);
}

/** Runs `fn` with a short-lived Redis connection. */
export async function withRedis<T>(c: Cluster, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(c.redis.url, { maxRetriesPerRequest: 1 });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export const streamLength = (c: Cluster) => withRedis(c, (r) => r.xlen(STREAM));

/** Figures every fault test reports. */
export interface Figures {
  written: number;
  stored: number;
  duplicated: number;
  dropped: number;
  queued: number;
  spilled: number;
  direct: number;
}

/**
 * The final check. `lost` names events the test destroyed on purpose (a corrupted journal
 * record): they must be absent, and everything else present exactly once.
 */
export async function verifyLedger(
  c: Cluster,
  name: string,
  ledger: Ledger,
  lost: ReadonlySet<string> = new Set(),
  lostLabel = 'destroyed on purpose',
): Promise<Figures> {
  assert.deepEqual(ledger.errors, [], 'log() never rejected');
  const rows = await query<{ id: string; n: string; event_type: string; metadata: Record<string, unknown> }>(
    c.pg.url,
    `SELECT id::text AS id, count(*) AS n, min(event_type) AS event_type, min(metadata::text)::jsonb AS metadata
       FROM ${SCHEMA}.audit_logs GROUP BY id`,
  );
  const byId = new Map(rows.map((r) => [r.id, Number(r.n)]));
  let stored = 0;
  let duplicated = 0;
  const missing: string[] = [];
  for (const id of ledger.mustBeStored()) {
    const n = byId.get(id) ?? 0;
    if (lost.has(id)) {
      assert.equal(n, 0, `${id} (${lostLabel}) must not be stored`);
      continue;
    }
    if (n === 0) missing.push(id);
    stored += Math.min(n, 1);
    duplicated += Math.max(0, n - 1);
  }
  const gapCounted = rows
    .filter((r) => r.event_type === 'audit.gap')
    .reduce((sum, r) => sum + Number(r.metadata.dropped_count ?? 0), 0);
  const f: Figures = {
    written: ledger.written,
    stored,
    duplicated,
    dropped: ledger.counts.dropped,
    queued: ledger.counts.queued,
    spilled: ledger.counts.spilled,
    direct: ledger.counts.direct,
  };
  console.log(
    `[fault] ${name}: written ${f.written}, stored ${f.stored}, duplicated ${f.duplicated}, dropped ${f.dropped}` +
      ` (queued ${f.queued}, spilled ${f.spilled}, direct ${f.direct}${lost.size ? `, ${lostLabel} ${lost.size}` : ''})`,
  );
  assert.deepEqual(
    missing.slice(0, 5),
    [],
    `${missing.length} acknowledged event(s) missing from audit_logs`,
  );
  assert.equal(duplicated, 0, 'no event stored twice');
  assert.ok(gapCounted >= f.dropped, `gap records count ${gapCounted} of ${f.dropped} dropped events`);
  return f;
}

/** Rows, stream, pending and worker output: what a failed wait should show. */
export async function diagnose(c: Cluster): Promise<string> {
  const rows = await rowCount(c).catch((e: Error) => `? (${e.message})`);
  const redis = await withRedis(c, async (r) => ({
    stream: await r.xlen(STREAM),
    dead: await r.xlen(DEAD),
    firstDead: (await r.xrange(DEAD, '-', '+', 'COUNT', 1))[0]?.[1]?.slice(2, 4),
    pending: await r.xpending(STREAM, 'workers').catch((e: Error) => e.message),
  })).catch((e: Error) => e.message);
  const out = c.workers.map(
    (w, i) => `--- worker ${i} (exit ${w.child.exitCode ?? w.child.signalCode})\n${w.output().slice(-3000)}`,
  );
  return `rows ${rows}; redis ${JSON.stringify(redis)}\n${out.join('\n')}`;
}

/** Like `waitUntil`, with the cluster's state in the failure message. */
export async function waitFor(c: Cluster, check: () => Promise<boolean>, timeoutMs: number, what: string) {
  try {
    await waitUntil(check, timeoutMs, what);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await diagnose(c)}`);
  }
}
