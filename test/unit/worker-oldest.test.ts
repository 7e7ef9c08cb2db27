import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuditEvent } from '../../src/core/event.js';
import { oldestCreatedMs } from '../../src/worker/worker.js';

const at = (created_at: unknown) => ({ created_at }) as unknown as AuditEvent;
const NOW = Date.parse('2026-06-15T12:00:00.000Z');

/** The definition: the least parseable created_at, at most `now`. */
function reference(events: readonly AuditEvent[], now: number): number {
  return events.reduce((min, e) => {
    const ms = Date.parse(e.created_at);
    return Number.isNaN(ms) ? min : Math.min(min, ms);
  }, now);
}

describe('oldestCreatedMs (the lag metric of a flush)', () => {
  it('finds the earliest ISO created_at and never exceeds now', () => {
    assert.equal(oldestCreatedMs([], NOW), NOW);
    const times = ['2026-06-15T11:00:00.500Z', '2026-06-15T10:59:59.999Z', '2026-06-15T11:30:00.000Z'];
    assert.equal(oldestCreatedMs(times.map(at), NOW), Date.parse(times[1]!));
    assert.equal(oldestCreatedMs([at('2026-06-15T13:00:00.000Z')], NOW), NOW);
  });

  it('skips malformed values instead of returning NaN', () => {
    const ok = '2026-06-15T11:00:00.000Z';
    for (const bad of ['2026-13-45T11:00:00.000Z', 'not a date', '', null, 42, undefined]) {
      assert.equal(oldestCreatedMs([at(ok), at(bad)], NOW), Date.parse(ok), String(bad));
      assert.equal(oldestCreatedMs([at(bad), at(ok)], NOW), Date.parse(ok), String(bad));
    }
    assert.equal(oldestCreatedMs([at('garbage')], NOW), NOW);
  });

  it('reads other ISO forms by their instant', () => {
    // 10:00+02:00 is 08:00Z, earlier than the Z value that sorts first as text.
    const events = [at('2026-06-15T09:00:00.000Z'), at('2026-06-15T10:00:00+02:00')];
    assert.equal(oldestCreatedMs(events, NOW), Date.parse('2026-06-15T08:00:00.000Z'));
    // Sorts first as text but names 3 March, later than 1 March.
    const overflow = [at('2026-02-31T00:00:00.000Z'), at('2026-03-01T00:00:00.000Z')];
    assert.equal(oldestCreatedMs(overflow, NOW), Date.parse('2026-03-01T00:00:00.000Z'));
  });

  it('equals the definition on toISOString values, with and without malformed ones', () => {
    const date = (min: string, max: string) =>
      fc.date({ min: new Date(min), max: new Date(max), noInvalidDate: true }).map((d) => d.toISOString());
    // Any year, and the days around the overflowing values below.
    const iso = fc.oneof(
      date('1970-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'),
      date('2026-02-27T00:00:00.000Z', '2026-03-04T00:00:00.000Z'),
    );
    const value = fc.oneof(
      { weight: 8, arbitrary: iso },
      fc.constantFrom(
        '2026-02-31T00:00:00.000Z', // Date.parse: 3 March
        '2026-02-28T24:00:00.000Z', // Date.parse: 1 March
        '2026-13-01T00:00:00.000Z',
        'x',
        '2026-06-15',
      ),
    );
    fc.assert(
      fc.property(
        fc.array(value.map(at), { maxLength: 20 }),
        fc.date({ noInvalidDate: true }),
        (events, now) => {
          assert.equal(oldestCreatedMs(events, now.getTime()), reference(events, now.getTime()));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
