/**
 * Keeps `npm run bench` working: every part once at a tiny size. Asserts the report's
 * structure and that nothing is left behind; never timings or throughput (a shared
 * machine makes those meaningless here — the benchmark itself reports them).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type BenchReport, runBench } from '../../bench/bench.js';
import { ALL_PARTS } from '../../bench/options.js';
import { DATABASE_URL, REDIS_URL, sql, uniqueId } from '../helpers/env.js';
import { assertBuilt } from '../helpers/processes.js';

function assertPositive(value: unknown, what: string): void {
  assert.equal(typeof value, 'number', `${what} is a number`);
  assert.ok(
    Number.isFinite(value as number) && (value as number) > 0,
    `${what} = ${value} is finite and > 0`,
  );
}

function assertCount(value: unknown, what: string): void {
  assert.ok(Number.isInteger(value) && (value as number) >= 0, `${what} = ${value} is a count`);
}

describe('bench smoke (tiny scale)', () => {
  it('reports every part and leaves no schema, key or directory behind', async () => {
    assertBuilt();
    const runId = `smoke${uniqueId()}`;
    const outDir = await mkdtemp(join(tmpdir(), 'auditline-bench-smoke-'));
    let report: BenchReport;
    try {
      report = await runBench({
        scale: 'tiny',
        durationS: 2,
        runId,
        outDir,
        redisUrl: REDIS_URL,
        databaseUrl: DATABASE_URL,
        log: () => {},
      });

      assert.deepEqual(report.errors, {});
      assert.deepEqual(report.options.only, [...ALL_PARTS]);
      assert.equal(report.runs.length, 1);
      const m = report.median;

      assert.ok(m.limit, 'limit reported');
      assertPositive(m.limit.rowsPerS, 'limit rows/s');
      assertPositive(m.limit.rows, 'limit rows');

      assert.ok(m.e2e, 'end to end reported');
      assertPositive(m.e2e.eventsPerS, 'end-to-end events/s');
      assertPositive(m.e2e.ratioToLimit, 'ratio to limit');
      assertPositive(m.e2e.stored, 'end-to-end rows stored');
      assertCount(m.e2e.notStored, 'end-to-end accepted but not stored');
      for (const [group, cores] of Object.entries(m.e2e.cpuCores)) {
        assert.ok(Number.isFinite(cores) && cores >= 0, `cpu ${group}`);
      }

      assert.ok(m.drain, 'drain reported');
      assertPositive(m.drain.eventsPerS, 'drain events/s');
      assertPositive(m.drain.stored, 'drain rows stored');

      assert.ok(m.seed, 'seed scenario reported');
      assertPositive(m.seed.stored, 'seed rows stored');
      for (const k of ['dropped', 'spilled', 'direct', 'failed'] as const)
        assertCount(m.seed[k], `seed ${k}`);
      assertCount(m.seed.notStored, 'seed accepted but not stored');
      for (const k of [
        'logP50Ms',
        'logP99Ms',
        'logP999Ms',
        'createdToCommittedP50Ms',
        'createdToCommittedP99Ms',
      ] as const) {
        assertPositive(m.seed[k], `seed ${k}`);
      }

      assert.ok(m.http, 'HTTP reported');
      for (const mode of ['single', 'batch'] as const) {
        assertPositive(m.http[mode].requestsPerS, `HTTP ${mode} requests/s`);
        assertPositive(m.http[mode].eventsPerS, `HTTP ${mode} events/s`);
        assertPositive(m.http[mode].p99Ms, `HTTP ${mode} p99`);
      }

      assert.ok(m.embedded, 'embedded reported');
      assertPositive(m.embedded.eventsPerS, 'embedded events/s');
      assert.equal(m.embedded.stored, m.embedded.events);

      // Memory: /proc is read on Linux only; elsewhere these are null.
      if (process.platform === 'linux') {
        assertPositive(m.e2e.workerPeakRssMiB, 'worker peak RSS');
        assertPositive(m.http.serverPeakRssMiB, 'serve peak RSS');
      }
      assertPositive(m.e2e.producerPeakRssMiB, 'producer peak RSS');
      assertPositive(m.seed.redisPeakUsedMemoryMiB, 'Redis peak memory');

      assert.ok(report.machine.cores > 0 && report.machine.node.startsWith('v'));
      assert.ok(report.files.json && existsSync(report.files.json), 'results JSON written');
      const md = await readFile(report.files.markdown ?? '', 'utf8');
      assert.match(md, /\| end to end \| events\/s committed/);
      assert.deepEqual(
        JSON.parse(await readFile(report.files.json, 'utf8')).median,
        JSON.parse(JSON.stringify(m)),
      );
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }

    const schemas = await sql<{ n: string }>(
      "SELECT schema_name AS n FROM information_schema.schemata WHERE schema_name LIKE 'bench\\_' || $1 || '\\_%'",
      [runId],
    );
    assert.deepEqual(schemas, [], 'no schema left behind');
    const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      const keys = await r.keys(`bench:${runId}:*`);
      assert.deepEqual(keys, [], 'no Redis key left behind');
    } finally {
      r.disconnect();
    }
    const dirs = (await import('node:fs/promises')).readdir(tmpdir());
    assert.deepEqual(
      (await dirs).filter((d) => d.startsWith(`auditline-bench-${runId}`)),
      [],
      'no embedded data directory, journal or build copy left behind',
    );
  });
});
