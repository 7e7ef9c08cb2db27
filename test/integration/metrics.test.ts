/**
 * Metrics across processes on real Redis and PostgreSQL: four workers publishing to one
 * prefix are summed (the seed's 4 workers overwrote one `SETEX` key), an expired heartbeat
 * removes its worker, no worker at all reads `no_data`, `/metrics` exposes the aggregated
 * Prometheus names, and embedded mode answers the same endpoint from process memory.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import {
  type AuditMetricsResponse,
  MetricsPublisher,
  MetricsRecorder,
  RedisMetricsStore,
} from '../../src/metrics/index.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import { Worker } from '../../src/worker/worker.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';
import { waitUntil } from '../helpers/processes.js';

const event = (i: number) => ({ event_type: 'document.update', user_id: `u${i}`, resource_id: String(i) });

/** Prometheus text → `name{labels}` → value. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('metrics: four workers on one prefix (distributed)', () => {
  const prefix = uniquePrefix('metrics');
  const schema = uniqueSchema('metrics');
  let dataDir: string;
  let runtime: Runtime;
  const workers: { worker: Worker; publisher: MetricsPublisher; store: RedisMetricsStore }[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-metrics-'));
    const config = loadConfig(
      {
        redisUrl: REDIS_URL,
        databaseUrl: DATABASE_URL,
        keyPrefix: prefix,
        schema,
        dataDir,
        metricsIntervalMs: 100,
        batchMaxWaitMs: 20,
      },
      {},
    );
    // The producer process: logs events and publishes its outcome counters.
    runtime = await createRuntime(config, { metrics: { role: 'producer' } });
    for (let i = 0; i < 4; i++) {
      const name = `w${i}`;
      const recorder = new MetricsRecorder({ role: 'worker', name });
      const store = new RedisMetricsStore({ url: REDIS_URL, keyPrefix: prefix });
      const publisher = new MetricsPublisher({ store, recorder, intervalMs: 100 });
      const worker = new Worker({
        queue: runtime.queue,
        store: runtime.store,
        config: { ...config, consumerName: name },
        onFlush: recorder.onFlush,
        onError: recorder.onError,
      });
      recorder.sources.worker = worker;
      publisher.start();
      workers.push({ worker, publisher, store });
    }
  });

  after(async () => {
    for (const w of workers) {
      await w.worker.stop();
      await w.publisher.stop();
      await w.store.close();
    }
    await runtime.close();
    await dropPrefix(prefix);
    await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports the sum of every worker, each under its own name', async () => {
    // Worker i alone drains 10 × (i + 1) events, so each one's total is distinct and known.
    let n = 0;
    for (let i = 0; i < 4; i++) {
      const count = 10 * (i + 1);
      await runtime.logger.logMany(Array.from({ length: count }, () => event(n++)));
      const { worker } = workers[i]!;
      worker.start();
      await waitUntil(
        async () => worker.stats.inserted === count && (await runtime.queue.depth()) === 0,
        30_000,
        `worker ${i} to insert ${count}`,
      );
      await worker.stop();
    }
    let body!: AuditMetricsResponse;
    await waitUntil(
      async () => {
        body = await runtime.metrics.reader.auditMetrics();
        return (
          body.metrics.insertedTotal === 100 &&
          body.workers.map((w) => w.inserted).join() === '10,20,30,40' &&
          body.metrics.events.info?.queued === 100
        );
      },
      10_000,
      'all four snapshots and the counters',
    );
    assert.deepEqual(
      body.workers.map((w) => w.name),
      ['w0', 'w1', 'w2', 'w3'],
    );
    assert.equal(body.metrics.insertsLastMinute, 100);
    assert.equal(body.metrics.queueLength, 0);
    assert.equal(body.metrics.pendingEntries, 0);
    assert.equal(body.metrics.liveWorkers, 4);
    assert.equal(body.health.status, 'healthy');
    assert.deepEqual(body.health.issues, []);
    assert.equal(body.producers.length, 1);
    assert.equal(body.producers[0]!.role, 'producer');
    assert.ok(body.workers.every((w) => w.pid === process.pid && w.heartbeatAgeMs >= 0));

    // The HTTP route returns the same shape.
    const app = buildApp({ ...runtime, metrics: runtime.metrics.reader });
    try {
      const res = await app.inject({ method: 'GET', url: '/api/monitoring/audit-metrics' });
      assert.equal(res.statusCode, 200);
      const json = res.json() as AuditMetricsResponse;
      assert.equal(json.metrics.insertedTotal, 100);
      assert.equal(json.workers.length, 4);
      assert.equal(typeof json.timestamp, 'string');

      const prom = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(prom.statusCode, 200);
      assert.match(String(prom.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const m = parseProm(prom.body);
      assert.equal(m.get('auditline_inserted_total'), 100);
      assert.equal(m.get('auditline_events_total{category="info",outcome="queued"}'), 100);
      assert.equal(m.get('auditline_workers'), 4);
      assert.equal(m.get('auditline_queue_depth'), 0);
      assert.equal(m.get('auditline_queue_pending'), 0);
      assert.equal(m.get('auditline_consumer_lag'), 0);
      assert.equal(m.get('auditline_dead_letters'), 0);
      assert.equal(m.get('auditline_health_status'), 0);
      const batches = m.get('auditline_batches_total');
      assert.ok(batches !== undefined && batches >= 4);
      assert.equal(m.get('auditline_flush_duration_seconds_count'), batches);
      assert.equal(m.get('auditline_flush_duration_seconds_bucket{le="+Inf"}'), batches);
      for (const name of [
        'auditline_retries_total',
        'auditline_oldest_pending_age_seconds',
        'auditline_batch_size',
        'auditline_commit_lag_seconds{stat="max"}',
        'auditline_flush_duration_seconds_sum',
      ]) {
        assert.ok(m.has(name), `${name} is exposed`);
      }
    } finally {
      await app.close();
    }
  });

  it('drops a worker whose heartbeat expired, and reads no_data once none is left', async () => {
    // w0 "crashes": its snapshot is left to expire (TTL = 3 × 100 ms).
    await workers[0]!.publisher.stop({ retire: false });
    await waitUntil(
      async () => (await runtime.metrics.reader.auditMetrics()).workers.length === 3,
      10_000,
      'the expired worker to disappear',
    );
    // The others exit gracefully: their snapshots are removed at once.
    for (const w of workers.slice(1)) await w.publisher.stop();
    const body = await runtime.metrics.reader.auditMetrics();
    assert.deepEqual(body.workers, []);
    assert.equal(body.health.status, 'no_data');
    assert.deepEqual(
      body.health.issues.map((i) => i.rule),
      ['no_live_worker'],
    );
    // Lifetime totals outlive the processes that produced them.
    assert.equal(body.metrics.insertedTotal, 100);
  });
});

describe('metrics: embedded mode', () => {
  let dataDir: string;
  let runtime: Runtime;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-metrics-embedded-'));
    const config = loadConfig({ dataDir, metricsIntervalMs: 100, batchMaxWaitMs: 20 }, {});
    runtime = await createRuntime(config, { metrics: { role: 'server' } });
  });

  after(async () => {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves the same endpoint from process memory', async () => {
    await runtime.logger.logMany(Array.from({ length: 25 }, (_, i) => event(i)));
    const app = buildApp({ ...runtime, metrics: runtime.metrics.reader });
    try {
      let body!: AuditMetricsResponse;
      await waitUntil(
        async () => {
          const res = await app.inject({ method: 'GET', url: '/api/monitoring/audit-metrics' });
          body = res.json() as AuditMetricsResponse;
          return body.metrics.insertedTotal === 25 && body.metrics.events.info?.queued === 25;
        },
        30_000,
        'the embedded worker to report 25 inserts',
      );
      assert.equal(body.workers.length, 1);
      assert.equal(body.workers[0]!.role, 'worker');
      assert.equal(body.health.status, 'healthy');
      const prom = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(parseProm(prom.body).get('auditline_inserted_total'), 25);
    } finally {
      await app.close();
    }
  });
});
