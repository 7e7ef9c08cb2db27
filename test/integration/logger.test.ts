/**
 * The library: createAuditLogger in embedded and distributed mode, coalescing, overflow at
 * the cap (the seed's behaviour: critical → direct write, others dropped), close() flushing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
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
    const producer = new Producer({ config, queue, directStore: async () => assert.fail('no direct write') });
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

  it('queue at its cap: critical events are written directly, others dropped and counted', async () => {
    const schema = uniqueSchema('logger');
    cleanup.push(() => dropSchema(schema));
    const store = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
    await store.migrate();
    await store.close();
    const prefix = uniquePrefix('cap');
    cleanup.push(() => dropPrefix(prefix));
    const audit = createAuditLogger({
      redisUrl: REDIS_URL,
      databaseUrl: DATABASE_URL,
      schema,
      keyPrefix: prefix,
      queueMaxLength: 10,
    });
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
    await audit.close();
    const rows = await sql<{ id: string }>(`SELECT id::text FROM "${schema}".audit_logs ORDER BY id`);
    assert.deepEqual(rows.map((r) => r.id).sort(), critical.map((r) => r.id).sort());
  });
});
