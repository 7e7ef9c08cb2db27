/**
 * Fault 5: one poison event (an `ip_address` PostgreSQL's inet rejects, enqueued below the
 * validator) inside a batch of 1,000: 999 commit, the poison lands in the dead-letter
 * stream with its error, delivery count and first-seen time, and the pipeline keeps moving.
 * Then `auditline dlq` on the result: list, show, replay (re-validation keeps the poison and
 * a tampered event, re-enqueues a valid one), purge (refused without --yes).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sealEvent } from '../../src/core/canonical.js';
import type { AuditEvent } from '../../src/core/event.js';
import { validateEvent } from '../../src/core/validate.js';
import { createAuditLogger } from '../../src/logger.js';
import { RedisStreamsQueue } from '../../src/queue/redis/redis-streams-queue.js';
import { spawnCli } from '../helpers/processes.js';
import {
  type Cluster,
  DEAD,
  Ledger,
  PREFIX,
  rowCount,
  sampleEvent,
  startCluster,
  startWorker,
  streamLength,
  verifyLedger,
  waitFor,
  withRedis,
} from './harness.js';

function sealed(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return sealEvent({ ...validateEvent(sampleEvent('poison')), ...overrides });
}

async function cli(c: Cluster, args: string[]) {
  const p = spawnCli(['dlq', ...args], c.env);
  const { code } = await p.exited;
  return { code, out: p.output() };
}

describe('fault: one poison event in a batch of 1,000', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('999 commit, the poison is dead-lettered with its error, the pipeline keeps moving; dlq manages it', async () => {
    const ledger = new Ledger();
    const batch = Array.from({ length: 1000 }, (_, i) =>
      i === 500 ? sealed({ ip_address: 'not-an-ip' }) : sealed(),
    );
    const poison = batch[500] as AuditEvent;
    const queue = new RedisStreamsQueue({ url: c.redis.url, keyPrefix: PREFIX, maxLength: 100_000 });
    await queue.init();
    const statuses = await queue.enqueue(batch.map((e) => JSON.stringify(e)));
    assert.ok(statuses.every((s) => s === 'queued'));
    for (const e of batch) ledger.record({ id: e.id, hash: e.hash, outcome: 'queued' });

    // One batch of exactly 1,000: the whole stream in one read.
    const sized = { AUDITLINE_BATCH_MIN_SIZE: '1000', AUDITLINE_BATCH_MAX_SIZE: '1000' };
    startWorker(c, 'poisoned', sized);
    await waitFor(c, async () => (await rowCount(c)) === 999, 60_000, '999 rows');
    await waitFor(c, async () => (await withRedis(c, (r) => r.xlen(DEAD))) === 1, 30_000, 'one dead letter');
    const [letter] = await queue.listDeadLetters(10);
    assert.ok(letter);
    assert.equal(JSON.parse(letter.payload).id, poison.id);
    assert.match(letter.reason, /inet|not-an-ip/);
    assert.equal(letter.deliveries, 1);
    assert.ok(Math.abs(Date.parse(letter.firstSeenAt) - Date.now()) < 120_000, letter.firstSeenAt);

    // The pipeline keeps moving.
    const audit = createAuditLogger({
      redisUrl: c.redis.url,
      databaseUrl: c.pg.url,
      journalDir: join(c.dir, 'p'),
    });
    for (let i = 0; i < 200; i++) ledger.track(audit.log(sampleEvent('after-poison')));
    await ledger.settled();
    await audit.close();
    await waitFor(c, async () => (await rowCount(c)) === 1199, 60_000, '1,199 rows');

    // Two more dead letters: a valid event (e.g. parked during a misclassified outage) and
    // one altered after sealing.
    const valid = sealed();
    const tampered = { ...sealed(), description: 'changed after sealing' };
    const now = new Date().toISOString();
    await withRedis(c, async (r) => {
      for (const e of [valid, tampered]) {
        await r.xadd(
          DEAD,
          '*',
          'payload',
          JSON.stringify(e),
          'reason',
          'test',
          'deliveries',
          '6',
          'first_seen',
          now,
        );
      }
    });

    const list = await cli(c, ['list', '--json']);
    assert.equal(list.code, 0, list.out);
    const rows = JSON.parse(list.out) as {
      deadId: string;
      eventId: string;
      deliveries: number;
      eventType: string;
    }[];
    assert.deepEqual(
      rows.map((r) => r.eventId),
      [poison.id, valid.id, tampered.id],
    );
    const poisonId = rows[0]?.deadId as string;
    const show = await cli(c, ['show', poisonId, '--json']);
    assert.equal(show.code, 0, show.out);
    const shown = JSON.parse(show.out) as { payload: AuditEvent; replayable: boolean; invalid: string };
    assert.equal(shown.payload.ip_address, 'not-an-ip');
    assert.equal(shown.replayable, false);
    assert.match(shown.invalid, /ip_address/);
    const text = await cli(c, ['list']);
    assert.match(text.out, /EVENT ID/);

    const replay = await cli(c, ['replay', '--all', '--json']);
    assert.equal(replay.code, 1, 'exit 1: not everything was re-enqueued');
    const results = JSON.parse(replay.out) as { eventId: string; result: string; reason?: string }[];
    const byEvent = new Map(results.map((r) => [r.eventId, r]));
    assert.equal(byEvent.get(poison.id)?.result, 'invalid');
    assert.match(byEvent.get(poison.id)?.reason ?? '', /ip_address/);
    assert.equal(byEvent.get(tampered.id)?.result, 'invalid');
    assert.match(byEvent.get(tampered.id)?.reason ?? '', /hash mismatch/);
    assert.equal(byEvent.get(valid.id)?.result, 'requeued');
    ledger.record({ id: valid.id, hash: valid.hash, outcome: 'queued' });
    await waitFor(c, async () => (await rowCount(c)) === 1200, 60_000, 'the replayed event stored');
    assert.equal(await withRedis(c, (r) => r.xlen(DEAD)), 2, 'the invalid ones stay');

    const refused = await cli(c, ['purge', '--all']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /--yes/);
    assert.equal(await withRedis(c, (r) => r.xlen(DEAD)), 2);
    const purged = await cli(c, ['purge', '--all', '--yes']);
    assert.equal(purged.code, 0, purged.out);
    assert.equal(await withRedis(c, (r) => r.xlen(DEAD)), 0);

    await queue.close();
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    const f = await verifyLedger(c, 'poison', ledger, new Set([poison.id]), 'dead-lettered (then purged)');
    assert.equal(f.stored, 1200);
  });
});
