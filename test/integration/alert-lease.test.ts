/** The Redis alert lease against the real Redis at REDIS_URL, isolated by a unique key prefix. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { AlertManager, RedisAlertLease } from '../../src/alerts/index.js';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/env.js';

describe('RedisAlertLease', () => {
  const prefix = uniquePrefix('alertlease');
  let r1: Redis;
  let r2: Redis;
  before(() => {
    // Two connections, as two worker processes would have.
    r1 = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    r2 = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    r1.disconnect();
    r2.disconnect();
    await dropPrefix(prefix);
  });

  it('two contenders at once: exactly one holds the lease', async () => {
    const key = `${prefix}:race`;
    for (let round = 0; round < 20; round++) {
      const k = `${key}:${round}`;
      const a = new RedisAlertLease(r1, k);
      const b = new RedisAlertLease(r2, k);
      const got = await Promise.all([a.tryAcquire('a', 10_000), b.tryAcquire('b', 10_000)]);
      assert.equal(got.filter(Boolean).length, 1, `round ${round}: ${got}`);
      assert.equal(await r1.get(k), got[0] ? 'a' : 'b');
    }
  });

  it('renews for the holder only, and only the holder can release', async () => {
    const key = `${prefix}:renew`;
    const a = new RedisAlertLease(r1, key);
    const b = new RedisAlertLease(r2, key);
    assert.equal(await a.tryAcquire('a', 5_000), true);
    assert.equal(await a.tryAcquire('a', 60_000), true, 'holder renews');
    const ttl = await r1.pttl(key);
    assert.ok(ttl > 5_000 && ttl <= 60_000, `renewed TTL ${ttl}`);
    assert.equal(await b.tryAcquire('b', 60_000), false);
    assert.equal(await r1.get(key), 'a');
    assert.equal(await b.release('b'), false, 'a contender cannot free the lease');
    assert.equal(await r1.get(key), 'a');
    assert.equal(await a.release('a'), true);
    assert.equal(await r1.exists(key), 0);
    assert.equal(await b.tryAcquire('b', 60_000), true, 'free after release');
  });

  it('another holder takes over after expiry; the old holder can then neither renew nor release', async () => {
    const key = `${prefix}:expiry`;
    const a = new RedisAlertLease(r1, key);
    const b = new RedisAlertLease(r2, key);
    assert.equal(await a.tryAcquire('a', 100), true);
    assert.equal(await b.tryAcquire('b', 100), false);
    while ((await r1.exists(key)) === 1) await sleep(20);
    assert.equal(await b.tryAcquire('b', 60_000), true);
    assert.equal(await a.tryAcquire('a', 60_000), false, 'the old holder cannot renew');
    assert.equal(await a.release('a'), false);
    assert.equal(await r1.get(key), 'b');
  });

  it('with two managers sharing the Redis lease, exactly one evaluates and notifies', async () => {
    const key = `${prefix}:managers`;
    const collect = () => ({
      status: 'critical' as const,
      issues: [
        {
          rule: 'postgres_unreachable' as const,
          severity: 'critical' as const,
          message: 'PostgreSQL unreachable',
          value: false,
          threshold: true,
        },
      ],
    });
    const m1 = new AlertManager({ lease: new RedisAlertLease(r1, key), holder: 'w1', collect });
    const m2 = new AlertManager({ lease: new RedisAlertLease(r2, key), holder: 'w2', collect });
    const [e1, e2] = await Promise.all([m1.evaluateOnce(), m2.evaluateOnce()]);
    assert.equal([e1, e2].filter((e) => e.evaluated).length, 1);
    assert.equal([...e1.notifications, ...e2.notifications].length, 1, 'one trigger in total');
    const leader = e1.evaluated ? m1 : m2;
    const other = e1.evaluated ? m2 : m1;
    await leader.stop();
    assert.equal((await other.evaluateOnce()).evaluated, true, 'takes over once released');
    await other.stop();
    assert.equal(await r1.exists(key), 0);
  });
});
