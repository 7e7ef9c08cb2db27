/**
 * Fault 3: PostgreSQL stopped for 10 s while a producer logs and a worker drains, then
 * restarted. The worker retries with backoff and acknowledges nothing it has not committed;
 * the queue reaches its cap, so producers spill (and critical events, whose direct write
 * fails, spill too); once PostgreSQL is back everything drains, each event once.
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

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CAP = 3000;

describe('fault: PostgreSQL down for 10 s under load', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('workers retry, nothing unacknowledged is lost, everything drains once', async () => {
    const worker = startWorker(c, 'retrying', { AUDITLINE_QUEUE_MAX_LENGTH: String(CAP) });
    const journalDir = join(c.dir, 'producer');
    const audit = createAuditLogger({
      redisUrl: c.redis.url,
      databaseUrl: c.pg.url,
      journalDir,
      queueMaxLength: CAP,
    });
    const ledger = new Ledger();
    let stop = false;
    const producing = produceAtRate(
      () => audit.log(sampleEvent('pg-outage', 20)),
      ledger,
      1000,
      () => stop,
    );
    await waitFor(c, async () => (await rowCount(c)) > 0, 30_000, 'first rows');
    await c.pg.stop();
    const rowsAtStop = ledger.written;
    await sleep(10_000);
    await c.pg.restart();
    await sleep(2000);
    stop = true;
    await producing;
    await ledger.settled();
    assert.ok(ledger.written - rowsAtStop > CAP, 'more was logged during the outage than the queue holds');
    assert.ok(ledger.counts.spilled > 0, 'the queue reached its cap and producers spilled');

    // The producer replays its journal while it lives (close() leaves the rest on disk for
    // the next process), so let it finish first.
    await waitFor(
      c,
      async () => (await inspectJournal(join(journalDir, 'slot-0'))).pendingRecords === 0,
      90_000,
      'journal replayed',
    );
    await audit.close();
    const expected = ledger.mustBeStored().length;
    // The worker's backoff is capped at 10 s, so it may sleep that long after the restart.
    await waitFor(c, async () => (await rowCount(c)) >= expected, 90_000, `${expected} rows`);
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    assert.match(worker.output(), /started/);
    const f = await verifyLedger(c, 'postgres-outage', ledger);
    assert.equal(f.dropped, 0);
  });
});
