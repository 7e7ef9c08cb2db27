import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCodes, isAuditError } from '../../src/core/errors.js';
import { crc32, crc32Table } from '../../src/journal/crc32.js';
import { type CorruptionReport, Journal, type JournalOptions } from '../../src/journal/index.js';
import { HEADER_BYTES } from '../../src/journal/record.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditline-journal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ev = (i: number): string => JSON.stringify({ id: `e${i}`, event_type: 'doc.update', n: i });
const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from }, (_, k) => ev(from + k));

async function segmentFiles(d = dir): Promise<string[]> {
  return (await readdir(d)).filter((n) => n.endsWith('.seg')).sort();
}

/** Reads and acknowledges everything pending; returns the payloads in replay order. */
async function drain(j: Journal, batch = 3): Promise<string[]> {
  const out: string[] = [];
  await j.replay(
    async (payloads) => {
      out.push(...payloads);
    },
    { batchRecords: batch },
  );
  return out;
}

async function withJournal<T>(opts: Partial<JournalOptions>, fn: (j: Journal) => Promise<T>): Promise<T> {
  const j = await Journal.open({ dir, ...opts });
  try {
    return await fn(j);
  } finally {
    await j.close();
  }
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isAuditError(err) && err.code === code);
}

describe('crc32', () => {
  it('matches the standard check value and the native implementation', () => {
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
    for (let i = 0; i < 50; i++) {
      const b = randomBytes(i * 37);
      assert.equal(crc32Table(b), crc32(b));
      assert.equal(crc32Table(b.subarray(5), crc32Table(b.subarray(0, 5))), crc32Table(b));
    }
  });
});

describe('Journal: append and replay', () => {
  it('replays records oldest first, across append calls and batch boundaries', async () => {
    await withJournal({}, async (j) => {
      assert.deepEqual(await j.append(range(0, 4)), {
        status: 'ok',
        records: 4,
        bytes: 4 * (HEADER_BYTES + ev(0).length),
      });
      await j.append(range(4, 10));
      assert.equal((await j.status()).pendingRecords, 10);
      assert.deepEqual(await drain(j), range(0, 10));
      const s = await j.status();
      assert.equal(s.pendingRecords, 0);
      assert.equal(s.oldestRecordAt, null);
      assert.equal(await j.read(), null);
      assert.equal(j.stats().ackedRecords, 10);
    });
  });

  it('keeps each call contiguous under concurrent appends and round-trips any string', async () => {
    await withJournal({ fsync: 'always' }, async (j) => {
      const odd = ['', 'ünïcødé ✓ 🎉', 'x'.repeat(100_000), '\u0000\uffff'];
      const calls = Array.from({ length: 20 }, (_, c) => [...range(c * 10, c * 10 + 10), ...odd]);
      const results = await Promise.all(calls.map((p) => j.append(p)));
      assert.ok(results.every((r) => r.status === 'ok'));
      const got = await drain(j, 7);
      assert.equal(got.length, 20 * 14);
      for (let k = 0; k < 20; k++) {
        const chunk = got.slice(k * 14, k * 14 + 14);
        assert.ok(
          calls.some((c) => JSON.stringify(c) === JSON.stringify(chunk)),
          `call ${k} contiguous`,
        );
      }
    });
  });

  it('pipelines batches, enforces ack order, and rewinds unacknowledged batches', async () => {
    await withJournal({}, async (j) => {
      await j.append(range(0, 6));
      const b1 = (await j.read(2))!;
      const b2 = (await j.read(2))!;
      assert.deepEqual(
        b2.records.map((r) => r.payload),
        range(2, 4),
      );
      await expectCode(j.ack(b2), ErrorCodes.JOURNAL_ACK_ORDER);
      await j.ack(b1);
      j.rewind();
      assert.deepEqual(await drain(j, 10), range(2, 6));
    });
  });

  it('rewinds when the replay handler fails, so the batch is replayed next time', async () => {
    await withJournal({}, async (j) => {
      await j.append(range(0, 5));
      await assert.rejects(
        j.replay(
          async (p) => {
            if (p.includes(ev(3))) throw new Error('queue refused');
          },
          { batchRecords: 2 },
        ),
        /queue refused/,
      );
      assert.equal((await j.status()).pendingRecords, 3);
      assert.deepEqual(await drain(j), range(2, 5));
    });
  });

  it('reports the oldest pending record time', async () => {
    let now = Date.parse('2026-01-01T00:00:00.000Z');
    await withJournal({ now: () => now }, async (j) => {
      await j.append([ev(1)]);
      now += 60_000;
      await j.append([ev(2)]);
      assert.equal((await j.status()).oldestRecordAt?.toISOString(), '2026-01-01T00:00:00.000Z');
      const b = (await j.read(1))!;
      assert.equal(b.records[0]!.appendedAt, Date.parse('2026-01-01T00:00:00.000Z'));
      await j.ack(b);
      assert.equal((await j.status()).oldestRecordAt?.toISOString(), '2026-01-01T00:01:00.000Z');
    });
  });

  it('refuses records larger than a segment and any call after close', async () => {
    const j = await Journal.open({ dir, maxSegmentBytes: 1024 });
    await expectCode(j.append(['y'.repeat(2000)]), ErrorCodes.JOURNAL_RECORD_TOO_LARGE);
    await j.close();
    await j.close();
    await expectCode(j.append([ev(1)]), ErrorCodes.CLOSED);
    await expectCode(j.read(), ErrorCodes.CLOSED);
  });
});

describe('Journal: restart', () => {
  it('a new instance replays exactly what the old one left unacknowledged', async () => {
    await withJournal({}, async (j) => {
      await j.append(range(0, 10));
      await j.ack((await j.read(4))!);
      await j.read(3); // read, never acknowledged: must come back
    });
    await withJournal({}, async (j) => {
      assert.equal((await j.status()).pendingRecords, 6);
      await j.append(range(10, 12));
      assert.deepEqual(await drain(j), range(4, 12));
    });
    await withJournal({}, async (j) => {
      assert.equal((await j.status()).pendingRecords, 0);
      assert.equal(await j.read(), null);
    });
  });

  it('an unreadable checkpoint means replaying everything still on disk (duplicates, never loss)', async () => {
    await withJournal({}, async (j) => {
      await j.append(range(0, 5));
      await j.ack((await j.read(2))!);
    });
    await writeFile(join(dir, 'checkpoint.json'), '{"segm');
    await withJournal({}, async (j) => {
      assert.deepEqual(await drain(j), range(0, 5));
    });
  });
});

describe('Journal: corruption', () => {
  async function writeClosed(n: number): Promise<string> {
    await withJournal({}, async (j) => {
      await j.append(range(0, n));
    });
    const [seg] = await segmentFiles();
    return join(dir, seg!);
  }
  const recordBytes = HEADER_BYTES + ev(0).length; // every ev(i) with i < 10 has the same length

  async function reopenAndDrain(): Promise<{ payloads: string[]; reports: CorruptionReport[] }> {
    const reports: CorruptionReport[] = [];
    const payloads = await withJournal({ onCorruption: (r) => reports.push(r) }, async (j) => {
      const pending = (await j.status()).pendingRecords;
      const got = await drain(j);
      assert.equal(pending, got.length, 'pendingRecords counts only valid records');
      assert.equal(j.stats().corruptRegions, reports.length);
      return got;
    });
    return { payloads, reports };
  }

  it('detects a torn tail, reports it, and replays the valid records', async () => {
    const file = await writeClosed(5);
    await truncate(file, 5 * recordBytes - 7);
    const { payloads, reports } = await reopenAndDrain();
    assert.deepEqual(payloads, range(0, 4));
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.reason, 'torn-tail');
    assert.equal(reports[0]!.offset, 4 * recordBytes);
    assert.equal(reports[0]!.skippedBytes, recordBytes - 7);
  });

  it('detects a torn header at the very end', async () => {
    const file = await writeClosed(3);
    await truncate(file, 2 * recordBytes + 3);
    const { payloads, reports } = await reopenAndDrain();
    assert.deepEqual(payloads, range(0, 2));
    assert.deepEqual(
      reports.map((r) => r.reason),
      ['torn-tail'],
    );
  });

  for (const [what, at] of [
    ['payload', HEADER_BYTES + 5],
    ['length field', 5],
    ['magic', 0],
    ['checksum field', 17],
  ] as const) {
    it(`detects a flipped byte in the ${what}, skips that record only`, async () => {
      const file = await writeClosed(5);
      const bytes = await readFile(file);
      bytes[2 * recordBytes + at]! ^= 0x5a;
      await writeFile(file, bytes);
      const { payloads, reports } = await reopenAndDrain();
      assert.deepEqual(payloads, [ev(0), ev(1), ev(3), ev(4)]);
      assert.equal(reports.length, 1);
      assert.equal(reports[0]!.offset, 2 * recordBytes);
      assert.equal(reports[0]!.skippedBytes, recordBytes);
      assert.equal(reports[0]!.reason, what === 'magic' ? 'bad-header' : 'checksum');
    });
  }

  it('skips garbage between records and a segment that holds nothing valid, then deletes it', async () => {
    await withJournal({ maxSegmentBytes: 3 * recordBytes }, async (j) => {
      for (let i = 0; i < 9; i++) await j.append([ev(i)]);
    });
    const files = await segmentFiles();
    assert.equal(files.length, 3);
    await writeFile(join(dir, files[1]!), randomBytes(3 * recordBytes));
    const { payloads, reports } = await reopenAndDrain();
    assert.deepEqual(payloads, [...range(0, 3), ...range(6, 9)]);
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.file, join(dir, files[1]!));
    assert.deepEqual(await segmentFiles(), []);
  });
});

describe('Journal: segments and size cap', () => {
  it('rolls segments at maxSegmentBytes and deletes one only when all of it is acknowledged', async () => {
    const rec = HEADER_BYTES + ev(0).length;
    await withJournal({ maxSegmentBytes: 4 * rec }, async (j) => {
      await j.append(range(0, 10)); // 4 + 4 + 2
      assert.deepEqual(await segmentFiles(), [
        'journal-000001.seg',
        'journal-000002.seg',
        'journal-000003.seg',
      ]);
      assert.equal((await stat(join(dir, 'journal-000001.seg'))).size, 4 * rec);
      await j.ack((await j.read(3))!);
      assert.equal((await segmentFiles()).length, 3, 'segment 1 still holds an unacknowledged record');
      await j.ack((await j.read(1))!);
      assert.deepEqual(await segmentFiles(), ['journal-000002.seg', 'journal-000003.seg']);
      await j.ack((await j.read(6))!);
      // The active segment is kept for further appends; the sealed one is gone.
      assert.deepEqual(await segmentFiles(), ['journal-000003.seg']);
      const s = await j.status();
      assert.deepEqual(
        { segments: s.segments, bytes: s.bytes, pending: s.pendingRecords },
        {
          segments: 1,
          bytes: 2 * rec,
          pending: 0,
        },
      );
      // Fill segment 3 and acknowledge it; the roll caused by the next append deletes it.
      await j.append([ev(0), ev(1)]); // same size as the others: fits exactly
      await j.ack((await j.read(10))!);
      assert.deepEqual(await segmentFiles(), ['journal-000003.seg']);
      await j.append([ev(2)]);
      assert.deepEqual(await segmentFiles(), ['journal-000004.seg']);
      assert.deepEqual(await drain(j), [ev(2)]);
    });
    // Fully acknowledged but active at close: kept; a new process deletes it at open.
    assert.deepEqual(await segmentFiles(), ['journal-000004.seg']);
    await withJournal({ maxSegmentBytes: 4 * rec }, async (j) => {
      assert.deepEqual(await segmentFiles(), []);
      await j.append([ev(1)]);
      assert.deepEqual(await segmentFiles(), ['journal-000005.seg']);
      assert.deepEqual(await drain(j), [ev(1)]);
    });
  });

  it('reports full (counted) at maxTotalBytes, all-or-nothing, and accepts again after acks', async () => {
    const rec = HEADER_BYTES + ev(0).length;
    await withJournal({ maxSegmentBytes: 2 * rec, maxTotalBytes: 4 * rec }, async (j) => {
      assert.equal((await j.append(range(0, 3))).status, 'ok');
      const full = await j.append(range(3, 5));
      assert.deepEqual(full, { status: 'full', code: ErrorCodes.JOURNAL_FULL, reason: 'cap' });
      assert.equal((await j.append([ev(3)])).status, 'ok');
      assert.equal((await j.append([ev(4)])).status, 'full');
      assert.equal(j.stats().fullRejections, 2);
      await j.ack((await j.read(2))!); // frees segment 1
      assert.equal((await j.append([ev(4), ev(5)])).status, 'ok');
      assert.deepEqual(await drain(j), range(2, 6));
    });
  });
});

describe('Journal: fsync policies', () => {
  for (const fsync of ['always', 'interval', 'never'] as const) {
    it(`${fsync}: appends are durable across reopen and the timer does not outlive close`, async () => {
      await withJournal({ fsync, fsyncIntervalMs: 5 }, async (j) => {
        assert.equal(j.fsyncPolicy, fsync);
        for (let i = 0; i < 20; i++) await j.append([ev(i)]);
        await new Promise((r) => setTimeout(r, 20)); // let interval syncs run
        assert.equal(j.stats().fsyncErrors, 0);
      });
      await withJournal({ fsync }, async (j) => {
        assert.deepEqual(await drain(j), range(0, 20));
      });
    });
  }

  it('rejects an unknown policy', async () => {
    await expectCode(Journal.open({ dir, fsync: 'sometimes' as never }), ErrorCodes.CONFIG);
  });
});
