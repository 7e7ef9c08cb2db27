/**
 * What the durable in-process queue adds to the shared queue conformance suite: entries and
 * dead letters outlive the queue object (a restart replays what was not acknowledged), the
 * journal is acknowledged only up to the oldest unacknowledged entry, and one process at a
 * time holds the directory. Crash (SIGKILL) recovery end to end is in
 * test/integration/embedded-crash.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ErrorCodes } from '../../src/core/errors.js';
import { Journal } from '../../src/journal/index.js';
import { DurableMemoryQueue } from '../../src/queue/index.js';
import type { QueueEntry } from '../../src/queue/port.js';

const texts = (n: number, tag = 'p') => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
const payloadsOf = (entries: readonly QueueEntry[]) => entries.map((e) => e.payload);
const idsOf = (entries: readonly QueueEntry[]) => entries.map((e) => e.entryId);

describe('durable queue: survives the queue object', () => {
  let dir: string;
  const opened: DurableMemoryQueue[] = [];
  const open = async (maxLength = 100, extra: { maxBytes?: number } = {}) => {
    const q = new DurableMemoryQueue({ dir, maxLength, ...extra });
    opened.push(q);
    await q.init();
    return q;
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditline-durable-'));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('replays unacknowledged entries in order, delivered or not, after reopening', async () => {
    const q1 = await open();
    await q1.enqueue(texts(6));
    await q1.read('c1', 3, 0); // p-0..p-2 pending, p-3..p-5 never delivered
    await q1.close();
    const q2 = await open();
    assert.equal(await q2.depth(), 6);
    const again = await q2.read('c1', 100, 0);
    assert.deepEqual(payloadsOf(again), texts(6));
    assert.ok(again.every((e) => e.deliveries === 1));
    // New entries get ids of their own next to the replayed ones.
    await q2.enqueue(['new']);
    const [fresh] = await q2.read('c1', 10, 0);
    assert.equal(fresh!.payload, 'new');
    assert.equal(new Set([...idsOf(again), fresh!.entryId]).size, 7);
  });

  it('acknowledges the journal only up to the oldest unacknowledged entry', async () => {
    const q1 = await open();
    await q1.enqueue(texts(8));
    const got = await q1.read('c1', 8, 0);
    // Out of order: 1, 2 and 4 first; then 0, which makes 0..2 a settled prefix. 3 is never
    // acknowledged, so 4 stays journaled behind it (a duplicate delivery, never a loss).
    await q1.ack([got[1]!.entryId, got[2]!.entryId, got[4]!.entryId]);
    await q1.ack([got[0]!.entryId]);
    assert.equal(await q1.depth(), 4);
    await q1.close();
    const q2 = await open();
    assert.deepEqual(payloadsOf(await q2.read('c1', 100, 0)), ['p-3', 'p-4', 'p-5', 'p-6', 'p-7']);
  });

  it('leaves nothing to replay once every entry is acknowledged, however interleaved', async () => {
    const q1 = await open(5000);
    const enqueued = await Promise.all(Array.from({ length: 20 }, (_, c) => q1.enqueue(texts(100, `c${c}`))));
    assert.ok(enqueued.flat().every((s) => s === 'queued'));
    const acks: Promise<void>[] = [];
    for (;;) {
      const got = await q1.read('c1', 37, 0);
      if (got.length === 0) break;
      // Acknowledge in reverse order, concurrently with the next reads.
      acks.push(q1.ack(idsOf(got).reverse()));
    }
    await Promise.all(acks);
    assert.equal(await q1.depth(), 0);
    await q1.close();
    const q2 = await open(5000);
    assert.equal(await q2.depth(), 0);
    await q2.close();
    // Every record acknowledged: the journal reports nothing pending.
    const j = await Journal.open({ dir });
    try {
      assert.equal((await j.status()).pendingRecords, 0);
    } finally {
      await j.close();
    }
  });

  it('keeps dead letters across reopening; removal persists too', async () => {
    const q1 = await open();
    await q1.enqueue(['poison', 'fine', 'bad']);
    const [poison, fine, bad] = await q1.read('c1', 10, 0);
    await q1.ack([fine!.entryId]);
    await q1.deadLetter([poison!, bad!], 'store rejected the event');
    await q1.close();
    const q2 = await open();
    assert.equal(await q2.depth(), 0, 'dead-lettered entries are not replayed');
    const dead = await q2.listDeadLetters(10);
    assert.deepEqual(
      dead.map((d) => [d.payload, d.reason, d.deliveries]),
      [
        ['poison', 'store rejected the event', 1],
        ['bad', 'store rejected the event', 1],
      ],
    );
    await q2.removeDeadLetters([dead[0]!.deadId]);
    await q2.close();
    const q3 = await open();
    assert.deepEqual(
      (await q3.listDeadLetters(10)).map((d) => d.payload),
      ['bad'],
    );
    // Ids keep counting after a restart, so a new dead letter never reuses one.
    await q3.enqueue(['worse']);
    await q3.deadLetter(await q3.read('c1', 1, 0), 'again');
    const ids = (await q3.listDeadLetters(10)).map((d) => d.deadId);
    assert.equal(new Set(ids).size, 2);
    assert.equal((await q3.inspect()).deadLetters, 2);
  });

  it('replays every entry even when the cap was lowered since, and refuses new ones until room', async () => {
    const q1 = await open(10);
    await q1.enqueue(texts(10));
    await q1.close();
    const q2 = await open(4);
    assert.equal(await q2.depth(), 10);
    assert.deepEqual(await q2.enqueue(['late']), ['full']);
    const got = await q2.read('c1', 100, 0);
    assert.deepEqual(payloadsOf(got), texts(10));
    await q2.ack(idsOf(got).slice(0, 7));
    assert.deepEqual(await q2.enqueue(['a', 'b']), ['queued', 'full']);
  });

  it('answers full when the journal reaches its byte cap, and frees the reserved room', async () => {
    const q = await open(100, { maxBytes: 64 * 1024 });
    assert.deepEqual(await q.enqueue(['x'.repeat(40 * 1024)]), ['queued']);
    assert.deepEqual(await q.enqueue(['y'.repeat(40 * 1024), 'small']), ['full', 'full']);
    assert.equal(await q.depth(), 1);
    assert.deepEqual(await q.enqueue(['small']), ['queued']);
    assert.equal(await q.depth(), 2);
  });

  it('refuses a second open of the same directory while the first holds it', async () => {
    const q1 = await open();
    await q1.enqueue(['held']);
    const q2 = new DurableMemoryQueue({ dir, maxLength: 10 });
    await assert.rejects(q2.init(), { code: ErrorCodes.JOURNAL_LOCKED });
    await q2.close();
    await q1.close();
    const q3 = await open();
    assert.deepEqual(payloadsOf(await q3.read('c1', 10, 0)), ['held']);
  });

  it('opens lazily: nothing is created before first use, and close without use is a no-op', async () => {
    const sub = join(dir, 'queue');
    const q = new DurableMemoryQueue({ dir: sub, maxLength: 10 });
    assert.deepEqual(await readdir(dir), []);
    await q.close();
    await assert.rejects(q.enqueue(['x']), { code: ErrorCodes.CLOSED });
    assert.deepEqual(await readdir(dir), []);
  });
});
