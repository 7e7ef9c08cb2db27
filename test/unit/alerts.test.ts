import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AlertManager,
  type AlertSink,
  backoffMs,
  MemoryAlertLease,
  signWebhookBody,
  verifyWebhookSignature,
} from '../../src/alerts/index.js';
import { evaluateHealth, type HealthIssue, type HealthSnapshot } from '../../src/core/health.js';

function issue(rule: HealthIssue['rule'], value = 1): HealthIssue {
  const severity = rule === 'events_dropped' || rule === 'dead_letters' ? 'warning' : 'critical';
  return { rule, severity, message: `${rule} ${value}`, value, threshold: 0 };
}

/** A manual clock. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms), set: (ms: number) => (t = ms) };
}

const actions = (ns: { action: string; rule: string }[]) => ns.map((n) => `${n.action}:${n.rule}`);

describe('AlertManager state machine', () => {
  it('fires once when a condition starts, stays quiet while it lasts, resolves when it clears', () => {
    const c = clock();
    const m = new AlertManager({ now: c.now, renotifyIntervalMs: 60_000 });
    assert.deepEqual(m.update([]), []);
    const fired = m.update([issue('queue_backlog', 6000)]);
    assert.deepEqual(actions(fired), ['trigger:queue_backlog']);
    assert.equal(fired[0]?.startedAtMs, 1_000_000);
    for (let i = 0; i < 5; i++) {
      c.advance(10_000);
      assert.deepEqual(m.update([issue('queue_backlog', 7000 + i)]), [], `tick ${i}`);
    }
    c.advance(1);
    const resolved = m.update([]);
    assert.deepEqual(actions(resolved), ['resolve:queue_backlog']);
    assert.equal(resolved[0]?.issue.value, 7004, 'resolve carries the last value seen');
    assert.equal(resolved[0]?.startedAtMs, 1_000_000);
    assert.deepEqual(m.update([]), []);
    assert.deepEqual(m.active(), []);
  });

  it('re-notifies once per interval while the condition lasts, measured from the last notification', () => {
    const c = clock(0);
    const m = new AlertManager({ now: c.now, renotifyIntervalMs: 60_000 });
    m.update([issue('failure_rate')]);
    c.set(59_999);
    assert.deepEqual(m.update([issue('failure_rate')]), []);
    c.set(60_000);
    const again = m.update([issue('failure_rate', 2)]);
    assert.deepEqual(actions(again), ['renotify:failure_rate']);
    assert.deepEqual([again[0]?.startedAtMs, again[0]?.atMs, again[0]?.issue.value], [0, 60_000, 2]);
    c.set(119_999);
    assert.deepEqual(m.update([issue('failure_rate')]), []);
    c.set(120_000);
    assert.deepEqual(actions(m.update([issue('failure_rate')])), ['renotify:failure_rate']);
    assert.equal(m.active()[0]?.notifications, 3);
  });

  it('keys alerts by rule: independent lifecycles, resolves listed before triggers', () => {
    const c = clock(0);
    const m = new AlertManager({ now: c.now });
    assert.deepEqual(actions(m.update([issue('queue_backlog'), issue('dead_letters')])), [
      'trigger:queue_backlog',
      'trigger:dead_letters',
    ]);
    c.advance(1000);
    assert.deepEqual(actions(m.update([issue('dead_letters'), issue('redis_unreachable')])), [
      'resolve:queue_backlog',
      'trigger:redis_unreachable',
    ]);
    c.advance(1000);
    assert.deepEqual(
      m.active().map((a) => a.rule),
      ['dead_letters', 'redis_unreachable'],
    );
    // A condition that returns after resolving is a new alert with a new start time.
    m.update([]);
    c.advance(1000);
    const back = m.update([issue('dead_letters')]);
    assert.deepEqual(actions(back), ['trigger:dead_letters']);
    assert.equal(back[0]?.startedAtMs, 3000);
  });

  it('acts on evaluateHealth issues: no worker at all still triggers while status is no_data', () => {
    const snapshot: HealthSnapshot = {
      queueLength: 0,
      insertsLastMinute: 0,
      failuresLastMinute: 0,
      avgBatchTimeMs: 0,
      droppedLastMinute: 0,
      overflowEvents: 0,
      spilledEvents: 0,
      deadLetters: 0,
      journalBacklog: 0,
      workers: [],
      redisReachable: true,
      postgresReachable: true,
    };
    const report = evaluateHealth(snapshot);
    assert.equal(report.status, 'no_data');
    const m = new AlertManager({ now: () => 0 });
    assert.deepEqual(actions(m.update(report.issues)), ['trigger:no_live_worker']);
  });

  it('dispatch with a sink whose request() throws never rejects and counts the failure', async () => {
    const broken: AlertSink = {
      name: 'broken',
      request: () => {
        throw new Error('boom');
      },
    };
    const errors: string[] = [];
    const m = new AlertManager({ sinks: [broken], onError: (_e, ctx) => errors.push(ctx) });
    const records = await m.process([issue('queue_backlog')]);
    assert.equal(records[0]?.result.ok, false);
    assert.deepEqual(m.stats(), { broken: { delivered: 0, failed: 1, retries: 0, lastError: 'boom' } });
    assert.deepEqual(errors, ['alert delivery']);
  });

  it('rejects two sinks with the same name', () => {
    const s: AlertSink = { name: 'x', request: () => null };
    assert.throws(() => new AlertManager({ sinks: [s, s] }), { code: 'AUDIT_ERR_CONFIG' });
  });
});

describe('AlertManager evaluator and lease', () => {
  it('only the lease holder evaluates; the other takes over after the holder stops', async () => {
    const c = clock(0);
    const lease = new MemoryAlertLease(c.now);
    const collect = () => ({ status: 'critical' as const, issues: [issue('postgres_unreachable')] });
    const a = new AlertManager({ now: c.now, lease, holder: 'a', collect, intervalMs: 1000 });
    const b = new AlertManager({ now: c.now, lease, holder: 'b', collect, intervalMs: 1000 });
    const ra = await a.evaluateOnce();
    const rb = await b.evaluateOnce();
    assert.deepEqual([ra.evaluated, rb.evaluated], [true, false]);
    assert.deepEqual(actions(ra.notifications), ['trigger:postgres_unreachable']);
    c.advance(1000);
    assert.equal((await a.evaluateOnce()).evaluated, true, 'holder renews');
    assert.equal((await b.evaluateOnce()).evaluated, false);
    await a.stop(); // releases the lease
    assert.equal((await b.evaluateOnce()).evaluated, true);
  });

  it('a lease store that throws does not stop alerting (fail open)', async () => {
    const failing = {
      tryAcquire: async () => {
        throw new Error('ECONNREFUSED');
      },
      release: async () => false,
    };
    const errors: string[] = [];
    const m = new AlertManager({
      lease: failing,
      collect: () => ({ status: 'critical', issues: [issue('redis_unreachable')] }),
      onError: (_e, ctx) => errors.push(ctx),
    });
    const r = await m.evaluateOnce();
    assert.equal(r.evaluated, true);
    assert.deepEqual(actions(r.notifications), ['trigger:redis_unreachable']);
    assert.deepEqual(errors, ['alert lease']);
  });

  it('start() runs evaluations on an unref-ed timer and stop() ends them', async () => {
    let calls = 0;
    const m = new AlertManager({
      intervalMs: 5,
      collect: () => {
        calls++;
        return { status: 'healthy', issues: [] };
      },
    });
    m.start();
    m.start(); // idempotent
    while (calls < 3) await new Promise((r) => setImmediate(r));
    await m.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(calls, after, 'no evaluation after stop()');
  });

  it('start() without collect() is a configuration error', () => {
    assert.throws(() => new AlertManager().start(), { code: 'AUDIT_ERR_CONFIG' });
  });
});

describe('MemoryAlertLease', () => {
  it('one holder at a time; renew by the holder only; takeover after expiry; release by holder only', async () => {
    const c = clock(0);
    const l = new MemoryAlertLease(c.now);
    assert.equal(await l.tryAcquire('a', 100), true);
    assert.equal(await l.tryAcquire('b', 100), false);
    c.advance(90);
    assert.equal(await l.tryAcquire('a', 100), true, 'renewed to t=190');
    c.advance(90);
    assert.equal(await l.tryAcquire('b', 100), false, 'still held at t=180');
    assert.equal(await l.release('b'), false);
    c.advance(10);
    assert.equal(await l.tryAcquire('b', 100), true, 'expired at t=190');
    assert.equal(await l.release('a'), false);
    assert.equal(await l.release('b'), true);
    assert.equal(await l.tryAcquire('a', 100), true);
  });
});

describe('webhook signature', () => {
  const secret = 's3cret';
  const body = '{"a":1}';
  const nowMs = 1_750_000_000_000;
  const ts = String(nowMs / 1000);

  it('verifies what it signs, over timestamp and body', () => {
    const signature = signWebhookBody(secret, Number(ts), body);
    assert.match(signature, /^sha256=[0-9a-f]{64}$/);
    assert.equal(verifyWebhookSignature({ secret, body, timestamp: ts, signature, nowMs }), true);
    assert.equal(
      verifyWebhookSignature({ secret, body: Buffer.from(body), timestamp: ts, signature, nowMs }),
      true,
    );
  });

  it('rejects a changed body, timestamp, secret, a stale timestamp and missing headers', () => {
    const signature = signWebhookBody(secret, Number(ts), body);
    const ok = { secret, body, timestamp: ts, signature, nowMs };
    assert.equal(verifyWebhookSignature({ ...ok, body: '{"a":2}' }), false);
    assert.equal(verifyWebhookSignature({ ...ok, timestamp: String(Number(ts) + 1) }), false);
    assert.equal(verifyWebhookSignature({ ...ok, secret: 'other' }), false);
    assert.equal(verifyWebhookSignature({ ...ok, nowMs: nowMs + 301_000 }), false, 'replayed later');
    assert.equal(verifyWebhookSignature({ ...ok, nowMs: nowMs + 299_000 }), true);
    assert.equal(verifyWebhookSignature({ ...ok, signature: undefined }), false);
    assert.equal(verifyWebhookSignature({ ...ok, timestamp: undefined }), false);
    assert.equal(verifyWebhookSignature({ ...ok, signature: 'sha256=00' }), false);
  });
});

describe('backoffMs', () => {
  it('is full jitter under an exponential ceiling capped at maxDelayMs', () => {
    const o = { baseDelayMs: 100, maxDelayMs: 1000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((n) => backoffMs(n, { ...o, random: () => 0.999999 })),
      [99, 199, 399, 799, 999],
    );
    assert.equal(backoffMs(3, { ...o, random: () => 0 }), 0);
  });
});
