/**
 * Worker.flush in process, with an in-memory queue and store: parsing, the split of a batch
 * around a rejected event, acknowledgements and the flush report (the end-to-end and fault
 * tests run the built CLI instead).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuditEvent } from '../../src/core/event.js';
import type { QueueAdapter, QueueEntry } from '../../src/queue/port.js';
import type { StoreAdapter } from '../../src/store/port.js';
import { type FlushReport, Worker } from '../../src/worker/worker.js';

const T0 = Date.now() - 5000;

function entry(i: number, payload?: string): QueueEntry {
  const created_at = new Date(T0 + i).toISOString();
  return {
    entryId: `${i}-0`,
    payload: payload ?? JSON.stringify({ id: `e${i}`, created_at }),
    deliveries: 1,
  };
}

function setup(poison: Set<string>) {
  const acked: string[] = [];
  const dead: { ids: string[]; reason: string }[] = [];
  const stored: AuditEvent[] = [];
  const appends: number[] = [];
  const queue = {
    ack: async (ids: string[]) => {
      acked.push(...ids);
    },
    deadLetter: async (entries: QueueEntry[], reason: string) => {
      dead.push({ ids: entries.map((e) => e.entryId), reason });
    },
  } as unknown as QueueAdapter;
  const store = {
    append: async (events: readonly AuditEvent[]) => {
      appends.push(events.length);
      if (events.some((e) => poison.has(e.id))) {
        throw Object.assign(new Error('invalid input syntax for type inet'), { code: '22P02' });
      }
      stored.push(...events);
      return { inserted: events.length, duplicates: 0 };
    },
  } as unknown as StoreAdapter;
  const reports: FlushReport[] = [];
  const worker = new Worker({
    queue,
    store,
    config: {
      batchMaxWaitMs: 100,
      batchMinSize: 1,
      batchMaxSize: 100,
      targetFlushMs: 200,
      visibilityTimeoutMs: 1000,
      shutdownTimeoutMs: 1000,
      consumerName: 'w',
    },
    onFlush: (r) => reports.push(r),
  });
  const flush = (entries: QueueEntry[]) =>
    (worker as unknown as { flush(e: QueueEntry[]): Promise<void> }).flush(entries);
  return { flush, acked, dead, stored, appends, reports, worker };
}

describe('Worker flush', () => {
  it('commits and acknowledges a batch, dead-letters unparseable payloads, reports the lag', async () => {
    const t = setup(new Set());
    const entries = [entry(3), entry(1), entry(2, '{not json'), entry(4)];
    const before = Date.now();
    await t.flush(entries);
    assert.deepEqual(
      t.stored.map((e) => e.id),
      ['e3', 'e1', 'e4'],
    );
    assert.deepEqual(t.acked, ['3-0', '1-0', '4-0']);
    assert.deepEqual(t.dead, [{ ids: ['2-0'], reason: 'payload is not valid JSON' }]);
    assert.equal(t.reports.length, 1);
    const r = t.reports[0]!;
    assert.equal(r.events, 3);
    assert.equal(r.inserted, 3);
    assert.ok(r.maxLagMs >= before - (T0 + 1) && r.maxLagMs <= Date.now() - (T0 + 1), String(r.maxLagMs));
  });

  it('splits a rejected batch until the poison event is isolated; the rest commit, in order', async () => {
    const t = setup(new Set(['e5']));
    const entries = Array.from({ length: 8 }, (_, i) => entry(i));
    await t.flush(entries);
    assert.deepEqual(
      t.stored.map((e) => e.id),
      ['e0', 'e1', 'e2', 'e3', 'e4', 'e6', 'e7'],
    );
    assert.deepEqual(t.acked, ['0-0', '1-0', '2-0', '3-0', '4-0', '6-0', '7-0']);
    assert.equal(t.dead.length, 1);
    assert.deepEqual(t.dead[0]!.ids, ['5-0']);
    assert.match(t.dead[0]!.reason, /^store rejected the event: invalid input syntax/);
    assert.deepEqual(t.appends, [8, 4, 4, 2, 1, 1, 2]);
    assert.equal(t.worker.stats.deadLettered, 1);
    assert.equal(t.worker.stats.inserted, 7);
    assert.equal(t.reports[0]?.events, 8);
  });
});
