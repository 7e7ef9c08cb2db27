/**
 * The library: createAuditLogger in embedded and distributed mode, coalescing, overflow at
 * the cap (the seed's behaviour: critical → direct write, others dropped), close() flushing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig, parseOverflow } from '../../src/config.js';
import { verifyEventHash } from '../../src/core/canonical.js';
import {
  BatchValidationError,
  ConfigError,
  ErrorCodes,
  EventValidationError,
} from '../../src/core/errors.js';
import { createAuditLogger } from '../../src/logger.js';
import { Producer } from '../../src/producer.js';
import type { QueueAdapter } from '../../src/queue/port.js';
import { RedisStreamsQueue } from '../../src/queue/redis/redis-streams-queue.js';
import { openSpillJournal } from '../../src/spill.js';
import { PgliteStore } from '../../src/store/pglite/store.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  sql,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A real Redis queue that counts enqueue round trips. */
class CountingQueue {
  calls = 0;
  constructor(readonly inner: QueueAdapter) {}
  asQueue(): QueueAdapter {
    const inner = this.inner;
    return new Proxy(inner, {
      get: (target, prop, receiver) => {
        if (prop === 'enqueue') {
          return (payloads: readonly string[]) => {
            this.calls++;
            return inner.enqueue(payloads);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }
}

function redisQueue(maxLength: number): RedisStreamsQueue {
  const prefix = uniquePrefix('logger');
  cleanup.push(() => dropPrefix(prefix));
  return new RedisStreamsQueue({ url: REDIS_URL, keyPrefix: prefix, maxLength });
}

describe('createAuditLogger', () => {
  it('rejects half a distributed configuration synchronously with a ConfigError', () => {
    assert.throws(
      () => createAuditLogger({ redisUrl: REDIS_URL, databaseUrl: null }),
      (err: unknown) => err instanceof ConfigError && err.code === ErrorCodes.CONFIG,
    );
  });

  it('embedded mode: events land in PGlite under the data directory, hashes verify', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'auditline-embedded-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const audit = createAuditLogger({ redisUrl: null, databaseUrl: null, dataDir, batchMaxWaitMs: 20 });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) => audit.log({ event_type: 'embedded.test', metadata: { i } })),
    );
    assert.ok(results.every((r) => r.outcome === 'queued'));
    await audit.close();
    const store = new PgliteStore({ dataDir, schema: 'auditline' });
    try {
      assert.equal(await store.count(), 300);
      for await (const e of store.scan()) assert.ok(verifyEventHash(e));
    } finally {
      await store.close();
    }
  });

  it('rejects invalid events with a coded error and queues nothing', async () => {
    const queue = redisQueue(100);
    await queue.init();
    const config = loadConfig({ redisUrl: null, databaseUrl: null });
    const producer = new Producer({
      config,
      queue,
      journal: null,
      directStore: async () => assert.fail('no direct write'),
    });
    await assert.rejects(producer.log({ event_type: '' }), (e: unknown) => e instanceof EventValidationError);
    await assert.rejects(
      producer.logMany([{ event_type: 'ok' }, { event_type: 'x', bogus: 1 }, { event_type: 'ok2' }]),
      (e: unknown) =>
        e instanceof BatchValidationError &&
        e.invalid.length === 1 &&
        e.invalid[0]?.index === 1 &&
        e.invalid[0]?.issues[0]?.code === ErrorCodes.UNKNOWN_FIELD,
    );
    assert.equal(await queue.depth(), 0);
    await producer.close();
    await queue.close();
  });

  it('coalesces concurrent log() calls into one queue round trip, and close() flushes', async () => {
    const real = redisQueue(10_000);
    await real.init();
    const counting = new CountingQueue(real);
    const config = loadConfig({ redisUrl: null, databaseUrl: null });
    const producer = new Producer({
      config,
      queue: counting.asQueue(),
      journal: null,
      directStore: async () => assert.fail(),
    });
    const pending = Array.from({ length: 800 }, (_, i) =>
      producer.log({ event_type: 'burst', metadata: { i } }),
    );
    await producer.close(); // flushes what is in flight
    const results = await Promise.all(pending);
    assert.ok(results.every((r) => r.outcome === 'queued'));
    assert.equal(counting.calls, 1, 'one enqueue call for 800 events logged in one turn');
    assert.equal(await real.depth(), 800);
    await assert.rejects(
      producer.log({ event_type: 'late' }),
      (e: { code?: string }) => e.code === ErrorCodes.CLOSED,
    );
    await real.close();
  });

  it('hands events to the producer in call order, during initialisation and after it', async () => {
    const prefix = uniquePrefix('order');
    cleanup.push(() => dropPrefix(prefix));
    const dataDir = await mkdtemp(join(tmpdir(), 'auditline-order-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const audit = createAuditLogger({
      redisUrl: REDIS_URL,
      databaseUrl: DATABASE_URL,
      keyPrefix: prefix,
      dataDir,
    });
    const log = (i: number) => audit.log({ event_type: 'order', metadata: { i } });
    // Before initialisation is done (queued on it), then once it is (called directly).
    const early = Array.from({ length: 30 }, (_, i) => log(i));
    await early[0];
    const late = Array.from({ length: 30 }, (_, i) => log(30 + i));
    const results = await Promise.all([...early, ...late]);
    assert.ok(results.every((r) => r.outcome === 'queued'));
    await audit.close();
    const queue = new RedisStreamsQueue({ url: REDIS_URL, keyPrefix: prefix, maxLength: 1000 });
    const events = (await queue.read('order-check', 1000, 0)).map(
      (e) => JSON.parse(e.payload) as { id: string; producer_seq: number; metadata: { i: number } },
    );
    await queue.close();
    events.sort((a, b) => a.producer_seq - b.producer_seq);
    assert.deepEqual(
      events.map((e) => e.metadata.i),
      Array.from({ length: 60 }, (_, i) => i),
    );
    assert.deepEqual(
      events.map((e) => e.id),
      results.map((r) => r.id),
    );
  });

  /**
   * A distributed logger on its own migrated schema, key prefix and data directory (all
   * removed after the suite), with a small queue cap and the given overflow policy.
   */
  async function cappedLogger(queueMaxLength: number, overflow: string) {
    const schema = uniqueSchema('logger');
    cleanup.push(() => dropSchema(schema));
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await store.migrate();
    await store.close();
    const prefix = uniquePrefix('cap');
    cleanup.push(() => dropPrefix(prefix));
    const dataDir = await mkdtemp(join(tmpdir(), 'auditline-cap-'));
    cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
    const audit = createAuditLogger({
      redisUrl: REDIS_URL,
      databaseUrl: DATABASE_URL,
      schema,
      keyPrefix: prefix,
      dataDir,
      queueMaxLength,
      overflow: parseOverflow(overflow),
    });
    return { audit, schema };
  }

  it('seed preset at the cap: critical written directly, others dropped, counted and gap-recorded', async () => {
    const { audit, schema } = await cappedLogger(10, 'seed');
    const first = await Promise.all(Array.from({ length: 10 }, () => audit.log({ event_type: 'fill' })));
    assert.ok(first.every((r) => r.outcome === 'queued'));
    const info = await Promise.all(Array.from({ length: 5 }, () => audit.log({ event_type: 'overflow' })));
    assert.ok(info.every((r) => r.outcome === 'dropped'));
    const critical = await Promise.all(
      Array.from({ length: 3 }, () =>
        audit.log({ event_type: 'overflow.critical', event_category: 'critical' }),
      ),
    );
    assert.ok(critical.every((r) => r.outcome === 'direct'));
    const stats = await audit.stats();
    assert.deepEqual(stats.events.info, { queued: 10, dropped: 5 });
    assert.deepEqual(stats.events.critical, { direct: 3 });
    await audit.close(); // writes the gap record (queue still full: critical → direct)
    const rows = await sql<{ id: string; event_type: string; metadata: Record<string, unknown> }>(
      `SELECT id::text, event_type, metadata FROM "${schema}".audit_logs ORDER BY created_at, id`,
    );
    const gap = rows.filter((r) => r.event_type === 'audit.gap');
    assert.equal(gap.length, 1, 'one gap record');
    assert.equal(gap[0]?.metadata.dropped_category, 'info');
    assert.equal(gap[0]?.metadata.dropped_count, 5);
    assert.deepEqual(gap[0]?.metadata.dropped_seq_ranges, [[11, 15]]);
    const direct = rows.filter((r) => r.event_type === 'overflow.critical').map((r) => r.id);
    assert.deepEqual(direct.sort(), critical.map((r) => r.id).sort());
  });

  it('a direct write stores the event as sealed, even if the caller changes its metadata object after log()', async () => {
    const { audit, schema } = await cappedLogger(1, 'critical=direct,*=spill');
    assert.equal((await audit.log({ event_type: 'fill' })).outcome, 'queued');
    const metadata = { amount: 100, approver: 'alice' };
    const pending = audit.log({ event_type: 'refund', event_category: 'critical', metadata });
    // The caller reuses its object before the (asynchronous) direct write has happened.
    metadata.amount = 999_999;
    metadata.approver = 'mallory';
    const result = await pending;
    assert.equal(result.outcome, 'direct');
    await audit.close();
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    cleanup.push(() => store.close());
    const page = await store.query({ tenant_id: 'default', event_type: 'refund' }, { limit: 10 });
    assert.equal(page.events.length, 1);
    const stored = page.events[0]!;
    assert.deepEqual(stored.metadata, { amount: 100, approver: 'alice' });
    assert.equal(stored.hash, result.hash);
    assert.ok(verifyEventHash(stored), 'the stored row matches the hash the caller was given');
  });

  it('journal full: what fits of an overflowing chunk is journaled, the rest written directly (journalFallback direct), nothing lost', async () => {
    const queue = redisQueue(10);
    await queue.init();
    const schema = uniqueSchema('logger');
    cleanup.push(() => dropSchema(schema));
    const migrator = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await migrator.migrate();
    await migrator.close();
    const dir = await mkdtemp(join(tmpdir(), 'auditline-jfull-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadConfig({
      redisUrl: null,
      databaseUrl: null,
      dataDir: dir,
      queueMaxLength: 10,
      journalMaxBytes: 1024 * 1024, // the smallest cap allowed
      journalFallback: 'direct',
    });
    const journal = await openSpillJournal(config);
    const producer = new Producer({
      config,
      queue,
      journal,
      directStore: async () => new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 }),
    });
    cleanup.push(async () => {
      await producer.close();
      await queue.close();
    });
    // ~4 KiB per event: the 1 MiB journal is full after a few hundred.
    const padding = 'x'.repeat(4096);
    // One chunk of 390 overflowing events, bigger than the journal's room: the producer
    // journals the part that fits and writes the rest directly (it sent all 390 direct
    // while the journal takes or refuses an append whole).
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => producer.log({ event_type: 'x', metadata: { i, padding } })),
    );
    const by = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.id);
    assert.equal(by('queued').length, 10);
    assert.ok(by('spilled').length > 50, `some spilled (${by('spilled').length})`);
    assert.ok(by('direct').length > 50, `the rest written directly (${by('direct').length})`);
    assert.equal(
      by('queued').length + by('spilled').length + by('direct').length,
      400,
      'every event has a home',
    );
    assert.ok(producer.stats().journalFallbacks >= by('direct').length);
    assert.equal(await producer.journalBacklog(), by('spilled').length);
    const stored = await sql<{ id: string }>(`SELECT id::text FROM "${schema}".audit_logs`);
    assert.deepEqual(
      stored.map((r) => r.id).sort(),
      by('direct').sort(),
      'exactly the direct ones are in the table',
    );
    await producer.close();
    await queue.close();
  });

  it('default policy at the cap: nothing dropped, overflow spilled to the journal and replayed once there is room', async () => {
    const queue = redisQueue(10);
    await queue.init();
    const dir = await mkdtemp(join(tmpdir(), 'auditline-spill-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const config = loadConfig({ redisUrl: null, databaseUrl: null, dataDir: dir, queueMaxLength: 10 });
    const journal = await openSpillJournal(config);
    const producer = new Producer({
      config,
      queue,
      journal,
      directStore: async () => assert.fail('no direct write'),
    });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) => producer.log({ event_type: 'x', metadata: { i } })),
    );
    assert.deepEqual(
      results.map((r) => r.outcome),
      [...Array(10).fill('queued'), ...Array(15).fill('spilled')],
    );
    assert.equal(await producer.journalBacklog(), 15);
    // Make room the way a worker does: read and acknowledge.
    const delivered = await queue.read('test', 10, 0);
    await queue.ack(delivered.map((e) => e.entryId));
    const seen = delivered.map((e) => JSON.parse(e.payload).metadata.i as number);
    for (let round = 0; round < 200 && seen.length < 25; round++) {
      const more = await queue.read('test', 10, 100);
      await queue.ack(more.map((e) => e.entryId));
      seen.push(...more.map((e) => JSON.parse(e.payload).metadata.i as number));
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 25 }, (_, i) => i),
      'replayed in order, none lost',
    );
    await producer.close();
    assert.equal(producer.stats().replayed, 15);
    await queue.close();
  });
});
