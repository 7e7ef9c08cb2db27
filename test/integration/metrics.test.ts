/**
 * Metrics across processes on real Redis and PostgreSQL: four workers publishing to one
 * prefix are summed (the seed's 4 workers overwrote one `SETEX` key), an expired heartbeat
 * removes its worker, no worker at all reads `no_data`, `/metrics` exposes the aggregated
 * Prometheus names, embedded mode answers the same endpoint from process memory, a
 * producer's spill-journal backlog is reported and clears when replayed, and drops count as
 * a rate over the last minute (the alert resolves) while their lifetime counter stays.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AlertManager } from '../../src/alerts/index.js';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';
import { createAuditLogger } from '../../src/logger.js';
import {
  type AuditMetricsResponse,
  MemoryMetricsStore,
  MetricsPublisher,
  MetricsReader,
  MetricsRecorder,
  RedisMetricsStore,
  renderPrometheus,
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

describe('metrics: spill-journal backlog and producer counters (distributed)', () => {
  const prefix = uniquePrefix('metrics-journal');
  const schema = uniqueSchema('metrics-journal');
  let dataDir: string;
  let runtime: Runtime;
  let worker: Worker | null = null;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-metrics-journal-'));
    const config = loadConfig(
      {
        redisUrl: REDIS_URL,
        databaseUrl: DATABASE_URL,
        keyPrefix: prefix,
        schema,
        dataDir,
        metricsIntervalMs: 100,
        batchMaxWaitMs: 20,
        // Five events fill the queue; `info` spills the rest to the journal (the default).
        queueMaxLength: 5,
        health: { maxJournalBacklog: 3 },
      },
      {},
    );
    // A producer process with no worker: what is over the cap waits in its journal.
    runtime = await createRuntime(config, { metrics: { role: 'producer' } });
    worker = new Worker({
      queue: runtime.queue,
      store: runtime.store,
      config: { ...config, consumerName: 'journal-w' },
    });
  });

  after(async () => {
    await worker?.stop();
    await runtime.close();
    await dropPrefix(prefix);
    await dropSchema(schema);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('reports the backlog from the producer snapshot, fires journal_backlog, and clears once replayed', async () => {
    const results = await runtime.logger.logMany(Array.from({ length: 12 }, (_, i) => event(i)));
    assert.equal(results.filter((r) => r.outcome === 'queued').length, 5);
    assert.equal(results.filter((r) => r.outcome === 'spilled').length, 7);

    let body!: AuditMetricsResponse;
    await waitUntil(
      async () => {
        body = await runtime.metrics.reader.auditMetrics();
        return body.metrics.journalBacklog === 7 && body.producers[0]?.outcomes.spilled === 7;
      },
      10_000,
      'the published journal backlog',
    );
    const [producer] = body.producers;
    assert.equal(producer?.role, 'producer');
    assert.equal(producer?.journal?.pendingRecords, 7);
    assert.ok((producer?.journal?.bytes ?? 0) > 0);
    assert.ok((producer?.journal?.oldestRecordAgeMs ?? -1) >= 0);
    assert.deepEqual(producer?.outcomes, { queued: 5, spilled: 7, direct: 0, dropped: 0 });
    assert.ok(body.metrics.journalBytes > 0);
    assert.ok(body.metrics.oldestJournalRecordAgeMs !== null);
    assert.equal(body.metrics.spilledEvents, 7);
    const backlog = body.health.issues.find((i) => i.rule === 'journal_backlog');
    assert.deepEqual([backlog?.severity, backlog?.value, backlog?.threshold], ['warning', 7, 3]);

    const app = buildApp({ ...runtime, metrics: runtime.metrics.reader });
    try {
      const m = parseProm((await app.inject({ method: 'GET', url: '/metrics' })).body);
      assert.equal(m.get('auditline_journal_backlog_events'), 7);
      assert.ok((m.get('auditline_journal_bytes') ?? 0) > 0);
      assert.ok(m.has('auditline_journal_oldest_record_age_seconds'));
      assert.equal(
        m.get(`auditline_process_journal_backlog_events{process="${producer?.name}",role="producer"}`),
        7,
      );
      assert.equal(m.get('auditline_events_total{category="info",outcome="spilled"}'), 7);
      for (const name of [
        'auditline_handoff_timeouts_total',
        'auditline_journal_fallbacks_total',
        'auditline_gap_records_total',
        'auditline_replayed_events_total',
        'auditline_enqueue_errors_total',
        'auditline_direct_write_failures_total',
        'auditline_events_dropped_last_minute',
      ]) {
        assert.ok(m.has(name), `${name} is exposed`);
      }
    } finally {
      await app.close();
    }

    // A worker makes room; the producer replays its journal into the queue, then it is stored.
    worker?.start();
    await waitUntil(
      async () => {
        body = await runtime.metrics.reader.auditMetrics();
        return body.metrics.journalBacklog === 0 && body.metrics.replayedTotal === 7;
      },
      30_000,
      'the journal to be replayed and the counters published',
    );
    assert.equal(body.producers[0]?.replayed, 7);
    assert.equal(body.producers[0]?.journal?.pendingRecords, 0);
    assert.equal(body.producers[0]?.journal?.oldestRecordAgeMs, null);
    assert.equal(body.metrics.oldestJournalRecordAgeMs, null);
    assert.ok(!body.health.issues.some((i) => i.rule === 'journal_backlog'));
  });
});

describe('metrics: drops are a rate over the last minute', () => {
  let dataDir: string;
  let runtime: Runtime;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-metrics-drops-'));
    // The seed preset: non-critical events are dropped (counted, gap record) at the cap.
    const config = loadConfig(
      { dataDir, queueMaxLength: 5, overflow: { critical: 'direct', '*': 'drop' }, gapIntervalMs: 60_000 },
      {},
    );
    runtime = await createRuntime(config, { worker: false });
  });

  after(async () => {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('events_dropped fires while drops happen and resolves a minute later; the lifetime counter stays', async () => {
    // A recorder, store and reader on one hand-driven clock, over the real producer.
    let clock = Date.now();
    const now = () => clock;
    const recorder = new MetricsRecorder({ role: 'producer', name: 'p1' }, now);
    recorder.sources.producer = runtime.logger;
    const store = new MemoryMetricsStore(now);
    const reader = new MetricsReader({
      store,
      queue: runtime.queue,
      database: runtime.store,
      mode: 'embedded',
      thresholds: { maxDroppedPerMinute: 10 },
      now,
    });
    const publisher = new MetricsPublisher({ store, recorder, intervalMs: 60_000 });
    const alerts = new AlertManager({ now });

    const results = await runtime.logger.logMany(Array.from({ length: 20 }, (_, i) => event(i)));
    assert.equal(results.filter((r) => r.outcome === 'dropped').length, 15);
    await publisher.publishNow();
    let reading = await reader.read();
    let m = reading.response.metrics;
    assert.equal(m.droppedLastMinute, 15);
    assert.equal(m.droppedEvents, 15);
    const dropped = reading.response.health.issues.find((i) => i.rule === 'events_dropped');
    assert.deepEqual([dropped?.severity, dropped?.value, dropped?.threshold], ['warning', 15, 10]);
    assert.deepEqual(
      alerts.update(reading.response.health.issues).map((n) => `${n.action}:${n.rule}`),
      ['trigger:no_live_worker', 'trigger:events_dropped'],
    );

    // 30 s later the drops are still within the minute.
    clock += 30_000;
    await publisher.publishNow();
    assert.equal((await reader.read()).response.metrics.droppedLastMinute, 15);

    // 61 s after them, no new drop: the rate is 0 and the alert resolves.
    clock += 31_000;
    await publisher.publishNow();
    reading = await reader.read();
    m = reading.response.metrics;
    assert.equal(m.droppedLastMinute, 0);
    assert.ok(!reading.response.health.issues.some((i) => i.rule === 'events_dropped'));
    assert.deepEqual(
      alerts.update(reading.response.health.issues).map((n) => `${n.action}:${n.rule}`),
      ['resolve:events_dropped'],
    );
    // Lifetime totals are unchanged: Prometheus keeps counting up.
    assert.equal(m.droppedEvents, 15);
    const prom = parseProm((await renderPrometheus(reading)).body);
    assert.equal(prom.get('auditline_events_total{category="info",outcome="dropped"}'), 15);
    assert.equal(prom.get('auditline_events_dropped_last_minute'), 0);
    await publisher.stop();
  });
});

describe('metrics: createAuditLogger in distributed mode (library producers)', () => {
  const prefix = uniquePrefix('metrics-lib');
  let dataDir: string;
  const observer = new RedisMetricsStore({ url: REDIS_URL, keyPrefix: prefix });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-metrics-lib-'));
  });

  after(async () => {
    await observer.close();
    await dropPrefix(prefix);
    await rm(dataDir, { recursive: true, force: true });
  });

  const options = (name: string, producerMetrics: boolean) => ({
    redisUrl: REDIS_URL,
    databaseUrl: DATABASE_URL,
    keyPrefix: prefix,
    dataDir: join(dataDir, name),
    metricsIntervalMs: 100,
    producerMetrics,
  });

  it('publishes nothing by default, yet audit.metrics() counts the logger itself', async () => {
    const audit = createAuditLogger(options('quiet', false));
    try {
      await audit.logMany(Array.from({ length: 3 }, (_, i) => event(i)));
      const body = await audit.metrics();
      assert.equal(body.producers.length, 1);
      assert.equal(body.producers[0]?.role, 'producer');
      assert.deepEqual(body.producers[0]?.outcomes, { queued: 3, spilled: 0, direct: 0, dropped: 0 });
      assert.equal(body.producers[0]?.journal?.pendingRecords, 0);
      assert.equal(body.metrics.events.info?.queued, 3);
      assert.equal(body.metrics.queueLength, 3);
      assert.deepEqual(await observer.processes(), []);
      assert.deepEqual(await observer.counters(), {});
    } finally {
      await audit.close();
    }
    assert.deepEqual(await observer.counters(), {}, 'closing publishes nothing either');
  });

  it('with producerMetrics it publishes as a producer, and its totals outlive it', async () => {
    const audit = createAuditLogger(options('loud', true));
    try {
      await audit.logMany(Array.from({ length: 2 }, (_, i) => event(i)));
      await waitUntil(
        async () =>
          (await observer.processes()).some((p) => p.role === 'producer' && p.events.info?.queued === 2),
        10_000,
        'the producer snapshot',
      );
      const [snapshot] = await observer.processes();
      assert.equal(snapshot?.journal?.pendingRecords, 0);
      assert.ok(snapshot?.name.startsWith('producer-'));
    } finally {
      await audit.close();
    }
    assert.deepEqual(await observer.processes(), [], 'a graceful close removes the snapshot');
    assert.equal((await observer.counters())['events:info:queued'], 2);
  });
});
