/**
 * Fault 1: a worker SIGKILLed in the middle of a flush while producers keep writing. Its
 * delivered, unacknowledged entries stay pending in the stream; a restarted worker (or the
 * other one) reclaims them after the visibility timeout. Nothing is lost, nothing doubled.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createAuditLogger } from '../../src/logger.js';

import {
  type Cluster,
  Ledger,
  produceAtRate,
  rowCount,
  STREAM,
  sampleEvent,
  startCluster,
  startWorker,
  stopWorker,
  streamLength,
  verifyLedger,
  waitFor,
  withRedis,
} from './harness.js';

async function pendingOf(c: Cluster, consumer: string): Promise<number> {
  return withRedis(c, async (r) => {
    const summary = (await r.xpending(STREAM, 'workers')) as [
      number,
      unknown,
      unknown,
      [string, string][] | null,
    ];
    const mine = (summary[3] ?? []).find(([name]) => name === consumer);
    return mine ? Number(mine[1]) : 0;
  });
}

describe('fault: worker SIGKILLed mid-flush', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('every acknowledged event is stored exactly once after the kill and a restart', async () => {
    // Short collect phase: a worker spends most of its time flushing, so the kill lands in one.
    const fast = {
      AUDITLINE_BATCH_MAX_WAIT_MS: '50',
      AUDITLINE_BATCH_MIN_SIZE: '200',
      AUDITLINE_BATCH_MAX_SIZE: '500',
    };
    const victim = startWorker(c, 'victim', fast);
    startWorker(c, 'steady', fast);
    const audit = createAuditLogger({
      redisUrl: c.redis.url,
      databaseUrl: c.pg.url,
      journalDir: join(c.dir, 'producer'),
    });
    const ledger = new Ledger();
    let stop = false;
    const producing = produceAtRate(
      () => audit.log(sampleEvent('kill', 50)),
      ledger,
      3000,
      () => stop,
    );

    // Kill while the victim holds delivered, unacknowledged entries and rows are flowing.
    await waitFor(c, async () => (await rowCount(c)) > 2000, 60_000, 'rows flowing');
    await waitFor(c, async () => (await pendingOf(c, 'victim')) > 0, 30_000, 'victim holding a batch');
    victim.child.kill('SIGKILL');
    await victim.exited;
    const held = await pendingOf(c, 'victim');
    startWorker(c, 'restarted', fast);
    await new Promise((r) => setTimeout(r, 3000));
    stop = true;
    await producing;
    await ledger.settled();
    await audit.close();

    const expected = ledger.mustBeStored().length;
    await waitFor(c, async () => (await rowCount(c)) >= expected, 90_000, `${expected} rows`);
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    assert.equal(await pendingOf(c, 'victim'), 0, 'the dead worker holds nothing any more');
    console.log(`[fault] worker-kill: the killed worker held ${held} unacknowledged entries`);
    const f = await verifyLedger(c, 'worker-kill', ledger);
    assert.equal(f.dropped, 0);
    for (const w of c.workers.slice(1)) await stopWorker(w);
  });
});
