/**
 * Fault 2: Redis stopped for 10 s while a producer logs at a steady 500 events/s, then
 * restarted. `log()` never throws; events spill to the disk journal and are replayed into
 * the stream, in order, once Redis answers. Redis keeps an fsync'd append-only file here:
 * without persistence a Redis restart empties the stream, and no client can prevent that
 * (see docs/guarantees.md).
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
  STREAM,
  sampleEvent,
  startCluster,
  startWorker,
  streamLength,
  verifyLedger,
  waitFor,
  withRedis,
} from './harness.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('fault: Redis down for 10 s under a steady load', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster({ redisPersist: true });
  });
  after(() => c?.destroy());

  it('spills, replays in order once Redis answers, and stores everything once', async () => {
    const journalDir = join(c.dir, 'producer');
    const audit = createAuditLogger({ redisUrl: c.redis.url, databaseUrl: c.pg.url, journalDir });
    const ledger = new Ledger();
    let stop = false;
    const producing = produceAtRate(
      () => audit.log(sampleEvent('redis-outage', 40)),
      ledger,
      500,
      () => stop,
    );
    await sleep(2000);
    await c.redis.stop();
    await sleep(10_000);
    await c.redis.restart();
    await sleep(3000);
    stop = true;
    await producing;
    await ledger.settled();
    assert.ok(ledger.counts.spilled > 0, 'events were spilled while Redis was down');

    // Replayed into the stream (no worker yet, so the stream shows the order they arrived in).
    await waitFor(
      c,
      async () => (await inspectJournal(join(journalDir, 'slot-0'))).pendingRecords === 0,
      30_000,
      'journal replayed',
    );
    const seqs = await withRedis(c, async (r) => {
      const entries = await r.xrange(STREAM, '-', '+');
      const lastCopy = new Map<string, number>();
      // An entry holds the payloads of one enqueue call, joined with newlines.
      for (const payload of entries.flatMap(([, fields]) => (fields[1] ?? '').split('\n'))) {
        const e = JSON.parse(payload) as { id: string; producer_seq: number };
        // The last copy is the journal's: an enqueue that outlived its handoff timeout can
        // put an earlier copy in the stream (a duplicate the store absorbs).
        lastCopy.delete(e.id);
        lastCopy.set(e.id, e.producer_seq);
      }
      return [...lastCopy].filter(([id]) => ledger.outcomes.get(id) === 'spilled').map(([, s]) => s);
    });
    assert.equal(seqs.length, ledger.counts.spilled, 'every spilled event reached the stream');
    const inversions = seqs.filter((s, i) => i > 0 && s < (seqs[i - 1] ?? 0)).length;
    assert.equal(inversions, 0, 'spilled events were replayed in the order they were logged');

    startWorker(c, 'after-outage');
    await audit.close();
    const expected = ledger.mustBeStored().length;
    await waitFor(c, async () => (await rowCount(c)) >= expected, 60_000, `${expected} rows`);
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    const f = await verifyLedger(c, 'redis-outage', ledger);
    assert.equal(f.dropped, 0);
  });
});
