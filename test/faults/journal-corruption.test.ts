/**
 * Fault 6: two journal segments left on disk, one truncated mid-record (a torn write) and
 * one with a flipped byte. `journal status` detects and reports both; a new producer with
 * the same journal directory replays the valid records (its own Replayer, end to end into
 * the table) and skips the two damaged ones with a warning.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspectJournal } from '../../src/journal/index.js';
import { createAuditLogger } from '../../src/logger.js';
import { spawnCli } from '../helpers/processes.js';
import { freePort } from '../helpers/throwaway.js';
import {
  type Cluster,
  Ledger,
  rowCount,
  sampleEvent,
  startCluster,
  startWorker,
  streamLength,
  verifyLedger,
  waitFor,
} from './harness.js';

const HEADER = 20;

/** Offsets and payloads of the records of a segment (format in src/journal/record.ts). */
function records(buf: Buffer): { offset: number; payload: string }[] {
  const out: { offset: number; payload: string }[] = [];
  for (let pos = 0; pos + HEADER <= buf.length; ) {
    const len = buf.readUInt32LE(pos + 4);
    out.push({ offset: pos, payload: buf.toString('utf8', pos + HEADER, pos + HEADER + len) });
    pos += HEADER + len;
  }
  return out;
}

describe('fault: corrupt journal files', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('detects a torn tail and a flipped byte, replays every valid record once', async () => {
    const journalDir = join(c.dir, 'producer');
    const slot = join(journalDir, 'slot-0');
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const ledger = new Ledger();
    // Two processes' worth of spilled events: each starts a segment of its own.
    for (let round = 0; round < 2; round++) {
      const audit = createAuditLogger({
        redisUrl: dead,
        databaseUrl: c.pg.url,
        journalDir,
        handoffTimeoutMs: 200,
      });
      for (let i = 0; i < 100; i++) ledger.track(audit.log(sampleEvent(`corrupt-${round}`)));
      await ledger.settled();
      await audit.close();
    }
    assert.equal(ledger.counts.spilled, 200);
    const segs = (await readdir(slot)).filter((n) => n.endsWith('.seg')).sort();
    assert.equal(segs.length, 2, segs.join());
    const [first, second] = segs.map((n) => join(slot, n)) as [string, string];

    const lost = new Set<string>();
    const buf1 = await readFile(first);
    const r1 = records(buf1);
    const victim = r1[50];
    assert.ok(victim);
    lost.add(JSON.parse(victim.payload).id);
    const at = victim.offset + HEADER + 10;
    buf1[at] = (buf1[at] ?? 0) ^ 0xff; // a flipped byte in the payload
    await writeFile(first, buf1);
    const buf2 = await readFile(second);
    const r2 = records(buf2);
    const last = r2[r2.length - 1];
    assert.ok(last);
    lost.add(JSON.parse(last.payload).id);
    await truncate(second, buf2.length - 15); // a torn write of the last record

    const status = spawnCli(['journal', 'status', '--json'], { ...c.env, AUDITLINE_JOURNAL_DIR: journalDir });
    assert.equal((await status.exited).code, 0, status.output());
    const [s] = (JSON.parse(status.output()) as { slots: Awaited<ReturnType<typeof inspectJournal>>[] })
      .slots;
    assert.equal(s?.pendingRecords, 198);
    assert.deepEqual(s?.corrupt.map((r) => r.reason).sort(), ['checksum', 'torn-tail']);

    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => {
      if (w.code === 'AUDITLINE_JOURNAL_CORRUPT') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    startWorker(c, 'corrupt');
    const audit = createAuditLogger({ redisUrl: c.redis.url, databaseUrl: c.pg.url, journalDir });
    ledger.track(audit.log(sampleEvent('replayer-live'))); // opens the logger, which resumes the journal
    await ledger.settled();
    await waitFor(
      c,
      async () => (await inspectJournal(slot)).pendingRecords === 0,
      30_000,
      'journal replayed',
    );
    await audit.close();
    process.off('warning', onWarning);
    assert.equal(warnings.length, 2, warnings.join('\n'));

    await waitFor(c, async () => (await rowCount(c)) >= 199, 60_000, '199 rows');
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    const f = await verifyLedger(c, 'journal-corruption', ledger, lost, 'in damaged records');
    assert.equal(f.stored, 199);
  });
});
