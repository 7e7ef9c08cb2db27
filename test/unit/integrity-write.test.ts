import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuditEvent } from '../../src/core/event.js';
import { uniqueByKey } from '../../src/store/integrity-write.js';
import { sortedById } from '../../src/store/sql.js';

/** The definition: the first event of each (id, created_at instant), in input order. */
function reference(events: readonly AuditEvent[]): AuditEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const k = `${e.id}|${Date.parse(e.created_at)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const IDS = [
  '018f0000-0000-7000-8000-000000000001',
  '018f0000-0000-7000-8000-000000000002',
  '0190a6e4-7b7c-7d3e-8f00-123456789abc',
];
const TIMES = [
  '2026-06-15T12:00:00.000Z',
  '2026-06-15T12:00:00.001Z',
  '2026-06-15T12:00:00Z',
  '2026-06-15T14:00:00+02:00',
];

const ev = (id: string, created_at: string, tag: number) =>
  ({ id, created_at, hash: String(tag) }) as unknown as AuditEvent;

describe('uniqueByKey', () => {
  it('returns a batch without equal neighbouring ids as it is', () => {
    const batch = sortedById([
      ev(IDS[1]!, TIMES[0]!, 1),
      ev(IDS[0]!, TIMES[0]!, 2),
      ev(IDS[2]!, TIMES[1]!, 3),
    ]);
    assert.equal(uniqueByKey(batch), batch);
    const empty: AuditEvent[] = [];
    assert.equal(uniqueByKey(empty), empty);
  });

  it('keeps the first of a redelivered event and both events of one id at two instants', () => {
    const a = ev(IDS[0]!, TIMES[0]!, 1);
    const again = ev(IDS[0]!, TIMES[2]!, 2); // the same instant written differently
    const later = ev(IDS[0]!, TIMES[1]!, 3);
    const b = ev(IDS[1]!, TIMES[0]!, 4);
    assert.deepEqual(uniqueByKey([a, again, later, b]), [a, later, b]);
  });

  it('equals the definition on sorted batches with random duplicates', () => {
    const event = fc
      .record({ id: fc.constantFrom(...IDS), t: fc.constantFrom(...TIMES), tag: fc.nat() })
      .map((r) => ev(r.id, r.t, r.tag));
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), (events) => {
        const sorted = sortedById(events);
        assert.deepEqual(uniqueByKey(sorted), reference(sorted));
      }),
      { numRuns: 1000 },
    );
  });
});
