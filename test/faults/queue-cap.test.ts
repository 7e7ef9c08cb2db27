/**
 * Fault 7: the queue at its cap (2,000) with the default overflow policies while a producer
 * offers at least twice what a throttled worker drains (one worker, batches of 50, stopped
 * three quarters of the time with SIGSTOP). Nothing is
 * dropped: info events spill to the journal (counted), critical ones go direct to
 * PostgreSQL, and everything is eventually stored once. Rates are printed, not asserted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspectJournal } from '../../src/journal/index.js';
import { createAuditLogger } from '../../src/logger.js';
import {
  type Cluster,
  Ledger,
  produceAtRate,
  rowCount,
  sampleEvent,
  startCluster,
  startWorker,
  streamLength,
  verifyLedger,
  waitFor,
} from './harness.js';

const CAP = 2000;
const OFFERED_PER_SECOND = 4500;

describe('fault: queue at its cap, producers faster than the worker', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('nothing dropped, spills counted, everything stored once', async () => {
    const worker = startWorker(c, 'throttled', {
      AUDITLINE_QUEUE_MAX_LENGTH: String(CAP),
      AUDITLINE_BATCH_MIN_SIZE: '50',
      AUDITLINE_BATCH_MAX_SIZE: '50',
    });
    const journalDir = join(c.dir, 'producer');
    const audit = createAuditLogger({
      redisUrl: c.redis.url,
      databaseUrl: c.pg.url,
      journalDir,
      queueMaxLength: CAP,
    });
    const ledger = new Ledger();
    const started = Date.now();
    const rows0 = await rowCount(c);
    // Throttle: the worker is stopped (SIGSTOP) three quarters of the time, so it drains a
    // fraction of what it could; the printed rates show the ratio on this machine.
    let producing = true;
    const throttle = (async () => {
      while (producing) {
        worker.child.kill('SIGSTOP');
        await new Promise((r) => setTimeout(r, 300));
        worker.child.kill('SIGCONT');
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await produceAtRate(
      () => audit.log(sampleEvent('cap', 25)),
      ledger,
      OFFERED_PER_SECOND,
      () => Date.now() - started > 5000,
    );
    producing = false;
    await throttle;
    await ledger.settled();
    const seconds = (Date.now() - started) / 1000;
    const drained = (await rowCount(c)) - rows0;
    console.log(
      `[fault] queue-cap: offered ${Math.round(ledger.written / seconds)}/s, drained ${Math.round(drained / seconds)}/s while producing`,
    );
    assert.ok(ledger.counts.spilled > 0, 'the queue reached its cap and info events were spilled');
    assert.equal(ledger.counts.dropped, 0);
    const stats = await audit.stats();
    assert.equal(
      stats.events.info?.spilled,
      ledger.counts.spilled - (stats.events.critical?.spilled ?? 0),
      'spills counted',
    );

    await waitFor(
      c,
      async () => (await inspectJournal(join(journalDir, 'slot-0'))).pendingRecords === 0,
      90_000,
      'journal replayed',
    );
    await audit.close();
    const expected = ledger.mustBeStored().length;
    await waitFor(c, async () => (await rowCount(c)) >= expected, 90_000, `${expected} rows`);
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    await verifyLedger(c, 'queue-cap', ledger);
  });
});
