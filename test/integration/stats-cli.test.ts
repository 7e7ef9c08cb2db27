/**
 * `auditline stats` as built into dist/: `--once` prints the monitoring snapshot as JSON,
 * including a worker that publishes to the same prefix; `--help` documents the flags.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { MetricsPublisher, MetricsRecorder, RedisMetricsStore } from '../../src/metrics/index.js';
import { DATABASE_URL, dropPrefix, REDIS_URL, uniquePrefix, uniqueSchema } from '../helpers/env.js';
import { spawnCli } from '../helpers/processes.js';

const prefix = uniquePrefix('stats');
const store = new RedisMetricsStore({ url: REDIS_URL, keyPrefix: prefix });
const publisher = new MetricsPublisher({
  store,
  recorder: new MetricsRecorder({ role: 'worker', name: 'stats-worker' }),
  intervalMs: 60_000,
});

before(async () => {
  await publisher.publishNow();
});

after(async () => {
  await publisher.stop();
  await store.close();
  await dropPrefix(prefix);
});

it('stats --once prints one JSON snapshot with health and metrics', async () => {
  const run = spawnCli(['stats', '--once'], {
    REDIS_URL,
    DATABASE_URL,
    AUDITLINE_KEY_PREFIX: prefix,
    AUDITLINE_SCHEMA: uniqueSchema('stats'),
  });
  const { code } = await run.exited;
  assert.equal(code, 0, run.output());
  const body = JSON.parse(run.output()) as {
    health: { status: string; issues: unknown[] };
    metrics: { queueLength: number; insertsLastMinute: number };
    workers: { name: string; heartbeatAgeMs: number }[];
    timestamp: string;
  };
  assert.equal(body.health.status, 'healthy');
  assert.deepEqual(body.health.issues, []);
  assert.equal(body.metrics.queueLength, 0);
  assert.equal(body.metrics.insertsLastMinute, 0);
  assert.deepEqual(
    body.workers.map((w) => w.name),
    ['stats-worker'],
  );
  assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
});

it('stats --help documents --once', async () => {
  const run = spawnCli(['stats', '--help'], {});
  const { code } = await run.exited;
  assert.equal(code, 0);
  assert.match(run.output(), /--once/);
  assert.match(run.output(), /--interval-ms/);
});
