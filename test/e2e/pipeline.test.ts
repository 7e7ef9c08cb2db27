/**
 * End to end, distributed mode: library producers → Redis Streams → `auditline worker`
 * processes → PostgreSQL. Real processes, real signals.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { verifyEventHash } from '../../src/core/canonical.js';
import type { AuditEvent } from '../../src/core/event.js';
import { createAuditLogger } from '../../src/logger.js';
import { PostgresStore } from '../../src/store/postgres/index.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  sql,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';
import { type Spawned, spawnCli, waitUntil } from '../helpers/processes.js';

interface Ctx {
  schema: string;
  prefix: string;
  dataDir: string;
  env: Record<string, string>;
}

function context(label: string): Ctx {
  const schema = uniqueSchema(label);
  const prefix = uniquePrefix(label);
  // Never the default ./auditline-data: a spill journal left there would be replayed by
  // whatever process opens it next.
  const dataDir = mkdtempSync(join(tmpdir(), `auditline-${label}-`));
  return {
    schema,
    prefix,
    dataDir,
    env: {
      AUDITLINE_DATA_DIR: dataDir,
      REDIS_URL,
      DATABASE_URL,
      AUDITLINE_SCHEMA: schema,
      AUDITLINE_KEY_PREFIX: prefix,
      AUDITLINE_QUEUE_MAX_LENGTH: '1000000',
    },
  };
}

async function produce(ctx: Ctx, producers: number, perProducer: number): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      const audit = createAuditLogger({
        redisUrl: REDIS_URL,
        databaseUrl: DATABASE_URL,
        schema: ctx.schema,
        keyPrefix: ctx.prefix,
        dataDir: ctx.dataDir,
        queueMaxLength: 1_000_000,
      });
      for (let off = 0; off < perProducer; off += 500) {
        const results = await Promise.all(
          Array.from({ length: Math.min(500, perProducer - off) }, (_, i) =>
            audit.log({
              event_type: 'document.update',
              user_id: `user-${p}`,
              resource_type: 'document',
              resource_id: `doc-${off + i}`,
              event_category: i % 50 === 0 ? 'critical' : 'info',
              ip_address: i % 2 ? '10.0.0.1' : '2001:db8::7',
              metadata: { producer: p, n: off + i, tags: ['a', 'ü', '😀'] },
            }),
          ),
        );
        for (const r of results) {
          assert.equal(r.outcome, 'queued');
          ids.push(r.id);
        }
      }
      await audit.close();
    }),
  );
  return ids;
}

async function rowCount(schema: string): Promise<number> {
  const [row] = await sql<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".audit_logs`);
  return Number(row?.n);
}

/** Asserts: exactly the given ids are stored, once each, and every hash verifies. */
async function assertExactlyStored(schema: string, ids: string[]): Promise<void> {
  const [row] = await sql<{ n: string; d: string }>(
    `SELECT count(*) AS n, count(DISTINCT id) AS d FROM "${schema}".audit_logs`,
  );
  assert.equal(Number(row?.n), ids.length, 'row count');
  assert.equal(Number(row?.d), ids.length, 'distinct ids');
  const store = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 1 });
  try {
    const expected = new Set(ids);
    let seen = 0;
    for await (const e of store.scan({ chunkSize: 5000 }) as AsyncIterable<AuditEvent>) {
      assert.ok(expected.has(e.id), `unexpected id ${e.id}`);
      assert.ok(verifyEventHash(e), `hash of ${e.id} verifies`);
      seen++;
    }
    assert.equal(seen, ids.length);
  } finally {
    await store.close();
  }
}

async function pendingOf(prefix: string, consumer: string): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    const summary = (await r.xpending(`${prefix}:events`, 'workers')) as [
      number,
      string,
      string,
      [string, string][],
    ];
    const mine = (summary[3] ?? []).find(([name]) => name === consumer);
    return mine ? Number(mine[1]) : 0;
  } finally {
    r.disconnect();
  }
}

/** Events still queued: the stream's event count (`depth` in <prefix>:counts), 0 once it is empty. */
async function streamLength(prefix: string): Promise<number> {
  const r = new Redis(REDIS_URL);
  try {
    if ((await r.xlen(`${prefix}:events`)) === 0) return 0;
    return Number(await r.hget(`${prefix}:counts`, 'depth'));
  } finally {
    r.disconnect();
  }
}

function startWorker(ctx: Ctx, name: string, extra: Record<string, string> = {}): Spawned {
  return spawnCli(['worker'], { ...ctx.env, AUDITLINE_CONSUMER_NAME: name, ...extra });
}

async function stopWorker(w: Spawned): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  await w.exited;
}

describe('distributed pipeline', () => {
  const contexts: Ctx[] = [];
  const workers: Spawned[] = [];
  after(async () => {
    for (const w of workers)
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    for (const c of contexts) {
      await dropSchema(c.schema);
      await dropPrefix(c.prefix);
      rmSync(c.dataDir, { recursive: true, force: true });
    }
  });

  it('20,000 events from 4 concurrent producers through 2 workers: exactly 20,000 rows, all hashes verify', async () => {
    const ctx = context('e2e');
    contexts.push(ctx);
    const a = startWorker(ctx, 'w-a');
    const b = startWorker(ctx, 'w-b');
    workers.push(a, b);
    const ids = await produce(ctx, 4, 5000);
    assert.equal(new Set(ids).size, 20_000);
    await waitUntil(
      async () => (await rowCount(ctx.schema).catch(() => 0)) >= 20_000,
      120_000,
      '20,000 rows',
    );
    await waitUntil(
      async () => (await streamLength(ctx.prefix)) === 0,
      10_000,
      'acknowledged entries removed',
    );
    await Promise.all([stopWorker(a), stopWorker(b)]);
    assert.equal((await a.exited).code, 0, a.output());
    assert.equal((await b.exited).code, 0, b.output());
    await assertExactlyStored(ctx.schema, ids);
  });

  it('a worker SIGKILLed mid-batch: after a restart every event is present exactly once', async () => {
    const ctx = context('kill');
    contexts.push(ctx);
    const ids = await produce(ctx, 2, 10_000);
    const victim = startWorker(ctx, 'victim');
    workers.push(victim);
    await waitUntil(async () => (await rowCount(ctx.schema).catch(() => 0)) > 0, 60_000, 'first rows');
    victim.child.kill('SIGKILL');
    await victim.exited;
    const stored = await rowCount(ctx.schema);
    const held = await pendingOf(ctx.prefix, 'victim');
    assert.ok(stored < ids.length, `killed before the end (${stored} rows)`);
    assert.ok(held > 0, 'the killed worker held unacknowledged entries');
    // A new worker reclaims the dead one's entries after the visibility timeout.
    const rescuer = startWorker(ctx, 'rescuer', { AUDITLINE_VISIBILITY_TIMEOUT_MS: '1000' });
    workers.push(rescuer);
    await waitUntil(async () => (await streamLength(ctx.prefix)) === 0, 120_000, 'queue drained');
    await stopWorker(rescuer);
    assert.equal((await rescuer.exited).code, 0, rescuer.output());
    assert.equal(await pendingOf(ctx.prefix, 'victim'), 0);
    await assertExactlyStored(ctx.schema, ids);
  });

  it('SIGTERM: the worker commits and acknowledges what it holds and exits 0 within 10 s', async () => {
    const ctx = context('term');
    contexts.push(ctx);
    const ids = await produce(ctx, 2, 10_000);
    const w = startWorker(ctx, 'graceful');
    workers.push(w);
    await waitUntil(async () => (await rowCount(ctx.schema).catch(() => 0)) > 0, 60_000, 'first rows');
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    const { code } = await w.exited;
    const took = Date.now() - t0;
    assert.equal(code, 0, w.output());
    assert.ok(took < 10_000, `exited after ${took} ms`);
    assert.equal(await pendingOf(ctx.prefix, 'graceful'), 0, 'nothing left unacknowledged');
    const stored = await rowCount(ctx.schema);
    assert.equal(
      stored + (await streamLength(ctx.prefix)),
      ids.length,
      'every event is stored or still queued',
    );
    // Drain the rest and check the whole set.
    const rest = startWorker(ctx, 'rest');
    workers.push(rest);
    await waitUntil(async () => (await streamLength(ctx.prefix)) === 0, 120_000, 'queue drained');
    await stopWorker(rest);
    await assertExactlyStored(ctx.schema, ids);
  });
});
