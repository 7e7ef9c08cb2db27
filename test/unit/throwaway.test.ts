import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startPostgres, startRedis } from '../helpers/throwaway.js';

async function redisAnswers(url: string): Promise<string | null> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await r.ping();
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

async function query(url: string, text: string): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

describe('throwaway Redis', () => {
  it('starts on a free port, answers, survives kill/stop with restart on the same port, and cleans up', async () => {
    const redis = await startRedis();
    try {
      assert.notEqual(redis.port, 6379);
      assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
      const r = new Redis(redis.url);
      await r.set('k', 'v');
      assert.equal(await r.get('k'), 'v');
      r.disconnect();

      await redis.kill();
      assert.equal(await redisAnswers(redis.url), null);
      await redis.restart();
      assert.equal(await redisAnswers(redis.url), 'PONG');

      await redis.stop();
      assert.equal(await redisAnswers(redis.url), null);
      await redis.restart();
      const r2 = new Redis(redis.url);
      assert.equal(await r2.get('k'), null, 'no persistence: a restarted server is empty');
      await r2.set('k2', 'v2');
      assert.equal(await r2.get('k2'), 'v2');
      r2.disconnect();

      await redis.restart(); // while running: graceful stop, then start
      assert.equal(await redisAnswers(redis.url), 'PONG');
    } finally {
      await redis.destroy();
    }
    assert.equal(existsSync(redis.dir), false);
    assert.equal(await redisAnswers(redis.url), null);
  });
});

describe('throwaway PostgreSQL', () => {
  it('starts on a free port, keeps committed data across stop and kill, restarts on the same port, cleans up', async () => {
    const db = await startPostgres();
    try {
      assert.notEqual(db.port, 5432);
      assert.equal(db.url, `postgres://postgres@127.0.0.1:${db.port}/postgres`);
      await query(db.url, 'CREATE TABLE t (n int)');
      await query(db.url, 'INSERT INTO t VALUES (1)');

      await db.stop();
      await assert.rejects(query(db.url, 'SELECT 1'));
      await db.restart();
      await query(db.url, 'INSERT INTO t VALUES (2)');

      await db.kill();
      await assert.rejects(query(db.url, 'SELECT 1'));
      await db.restart();
      const rows = await query(db.url, 'SELECT n FROM t ORDER BY n');
      assert.deepEqual(
        rows.map((r) => r.n),
        [1, 2],
      );
      const [addr] = await query(db.url, 'SELECT inet_server_addr()::text AS a');
      assert.equal(addr?.a, '127.0.0.1/32');
    } finally {
      await db.destroy();
    }
    assert.equal(existsSync(db.dir), false);
    await assert.rejects(query(db.url, 'SELECT 1'));
  });
});
