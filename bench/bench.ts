/**
 * `runBench(options)`: one benchmark run (or several, reported as medians) against one
 * Redis and one PostgreSQL, every part in its own schema and key prefix, removed after
 * the part — and on failure or SIGINT/SIGTERM. `npm run bench` calls it through
 * bench/run.ts; an `auditline bench` command can call it the same way.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Cleanup } from './cleanup.js';
import type { PartContext } from './context.js';
import { ALL_PARTS, type BenchOptions, type BenchPart, scaleSettings } from './options.js';
import { type DrainResult, runDrain } from './parts/drain.js';
import { type EmbeddedPartResult, runEmbedded } from './parts/embedded.js';
import { type EndToEndResult, runEndToEnd } from './parts/end-to-end.js';
import { type HttpResult, runHttp } from './parts/http.js';
import { type LimitResult, runLimit } from './parts/limit.js';
import { runSeed, type SeedResult } from './parts/seed.js';
import { REPO_ROOT, resetBuild, snapshotBuild } from './processes.js';
import { formatProfile } from './profile.js';
import { markdown } from './report.js';
import { eventSizes } from './sealed-events.js';
import { medianOf } from './stats.js';
import { type MachineInfo, machineInfo } from './system.js';

export interface RunResult {
  limit?: LimitResult;
  e2e?: EndToEndResult & { ratioToLimit: number | null };
  drain?: DrainResult & { ratioToLimit: number | null };
  seed?: SeedResult;
  http?: HttpResult;
  embedded?: EmbeddedPartResult;
}

export interface BenchReport {
  runId: string;
  command: string;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: Pick<BenchOptions, 'durationS' | 'only' | 'workers' | 'scale' | 'runs'>;
  eventSizes: { inputBytes: number; sealedBytes: number };
  runs: RunResult[];
  median: RunResult;
  /** Part (and run) → error message, for parts that failed. */
  errors: Record<string, string>;
  notes: string[];
  /** Files written (absent when outDir is null). */
  files: { json?: string; markdown?: string };
  markdown: string;
}

export function resolveOptions(o: Partial<BenchOptions> = {}): BenchOptions {
  return {
    durationS: o.durationS ?? 30,
    only: o.only ?? [...ALL_PARTS],
    workers: o.workers ?? 2,
    scale: o.scale ?? 'full',
    runs: o.runs ?? 1,
    redisUrl: o.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    databaseUrl: o.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    outDir: o.outDir === null ? null : resolve(REPO_ROOT, o.outDir ?? 'bench/results'),
    profile: o.profile ?? false,
    runId: o.runId ?? randomBytes(3).toString('hex'),
    log: o.log ?? ((line) => process.stderr.write(`bench: ${line}\n`)),
  };
}

const NOTES = [
  'Producers, workers, the HTTP server and the load generator are separate processes; Redis and PostgreSQL share the same cores.',
  'End to end: 2 producer processes run closed loops of log(); they pause when the stream holds more than a high-water mark and resume below a low-water mark, so workers always have a backlog. Rate = events acknowledged (hence committed) in the steady window after warm-up.',
  'Drain: the same workers emptying a backlog filled beforehand, producers stopped: the worker side alone (in a deployment producers run on the application servers).',
  'Seed scenario: open-loop pacing (events issued on the clock, not on completion), default cap and overflow policy. created→committed uses ingested_at (transaction start), slightly understating commit time.',
  'HTTP: autocannon in its own process, half the duration per mode, 2 workers draining; queue cap raised so the numbers measure ingest, not overflow.',
  'Shared 2-core machine: other engineers run tests on it; the machine CPU figure shows how busy it was.',
];

/** Runs the benchmark and returns (and, unless outDir is null, writes) its report. */
export async function runBench(
  partial: Partial<BenchOptions> = {},
  command = 'npm run bench',
): Promise<BenchReport> {
  const opts = resolveOptions(partial);
  const scale = scaleSettings(opts.scale);
  const cleanup = new Cleanup(opts.redisUrl, opts.databaseUrl);
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1 });
  const db = new pg.Client({ connectionString: opts.databaseUrl });
  const killNow = () => cleanup.killAllNow();
  const onSignal = (signal: NodeJS.Signals) => {
    opts.log(`${signal}: stopping children, dropping schemas and keys`);
    cleanup.runAll(true).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', killNow);
  try {
    const build = await snapshotBuild(cleanup, opts.runId);
    opts.log(`running the build copied to ${build}`);
    await db.connect();
    const machine = await machineInfo(redis, db);
    const startedAt = new Date().toISOString();
    const runs: RunResult[] = [];
    const errors: Record<string, string> = {};
    const sizes = eventSizes();
    /** Builds the report from the runs so far and writes it (after every run, so an interrupted --runs 3 keeps what it measured). */
    const save = async (): Promise<BenchReport> => {
      const report: BenchReport = {
        runId: opts.runId,
        command,
        startedAt,
        finishedAt: new Date().toISOString(),
        machine,
        options: {
          durationS: opts.durationS,
          only: opts.only,
          workers: opts.workers,
          scale: opts.scale,
          runs: opts.runs,
        },
        eventSizes: sizes,
        runs,
        median: medianOf(runs),
        errors,
        notes: NOTES,
        files: {},
        markdown: '',
      };
      report.markdown = markdown(report);
      if (opts.outDir) {
        await mkdir(opts.outDir, { recursive: true });
        const json = join(opts.outDir, `${startedAt.slice(0, 10)}-${machine.hostname}.json`);
        const md = join(opts.outDir, 'latest.md');
        report.files = { json, markdown: md };
        await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
        await writeFile(md, report.markdown);
      }
      return report;
    };
    for (let run = 0; run < opts.runs; run++) {
      const ctx: PartContext = { opts, scale, cleanup, redis, db, run, log: opts.log };
      const result: RunResult = {};
      const parts: Record<BenchPart, () => Promise<void>> = {
        limit: async () => {
          result.limit = await runLimit(ctx);
        },
        e2e: async () => {
          const e = await runEndToEnd(ctx, opts.workers);
          result.e2e = { ...e, ratioToLimit: null };
          if (e.profile) {
            opts.log(`workers:\n${formatProfile(e.profile.workers)}`);
            opts.log(`producers:\n${formatProfile(e.profile.producers)}`);
          }
        },
        drain: async () => {
          result.drain = { ...(await runDrain(ctx, opts.workers)), ratioToLimit: null };
        },
        seed: async () => {
          result.seed = await runSeed(ctx);
        },
        http: async () => {
          result.http = await runHttp(ctx);
        },
        embedded: async () => {
          result.embedded = await runEmbedded(ctx);
        },
      };
      for (const part of ALL_PARTS) {
        if (!opts.only.includes(part)) continue;
        opts.log(`run ${run + 1}/${opts.runs}: ${part}`);
        try {
          await parts[part]();
        } catch (err) {
          errors[`run ${run + 1} ${part}`] = err instanceof Error ? (err.stack ?? err.message) : String(err);
          opts.log(`${part} failed: ${err instanceof Error ? err.message : String(err)}`);
          await cleanup.runAll();
        }
      }
      if (result.e2e && result.limit) result.e2e.ratioToLimit = result.e2e.eventsPerS / result.limit.rowsPerS;
      if (result.drain && result.limit)
        result.drain.ratioToLimit = result.drain.eventsPerS / result.limit.rowsPerS;
      runs.push(result);
      if (run < opts.runs - 1) await save();
    }
    return await save();
  } finally {
    const problems = await cleanup.runAll(true);
    for (const p of problems) opts.log(`cleanup: ${p}`);
    resetBuild();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killNow);
    redis.disconnect();
    await db.end().catch(() => {});
  }
}
