import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { AuditEvent } from '../../src/core/event.js';
import { copyLine, copyTextValue } from '../../src/store/postgres/append.js';
import { eventToTextRow, INSERT_COLUMNS, type PlacedEvent } from '../../src/store/sql.js';

/** The generic form: every column through eventToTextRow, escaped, tab-joined. */
function reference(p: PlacedEvent, hashAsBytea: boolean): string {
  const row = eventToTextRow(p);
  const h = INSERT_COLUMNS.indexOf('hash');
  if (hashAsBytea) row[h] = `\\x${row[h]}`;
  return `${row.map(copyTextValue).join('\t')}\n`;
}

const text = fc.string({ unit: 'binary' }).filter((s) => s.isWellFormed() && !s.includes('\0'));
const tricky = fc.oneof(text, fc.constantFrom('a\tb', 'line\nbreak', 'back\\slash', '\r', '\\N', ''));
const nullable = fc.option(tricky, { nil: null });
const placed: fc.Arbitrary<PlacedEvent> = fc.record({
  event: fc.record({
    id: fc.uuid(),
    tenant_id: tricky,
    user_id: nullable,
    resource_type: nullable,
    resource_id: nullable,
    event_type: tricky,
    event_category: tricky,
    description: nullable,
    metadata: fc.dictionary(tricky, fc.jsonValue()),
    ip_address: fc.option(fc.ipV6(), { nil: null }),
    user_agent: nullable,
    created_at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    producer_id: nullable,
    producer_seq: fc.option(fc.integer({ min: 1 }), { nil: null }),
    hash: fc.stringMatching(/^[0-9a-f]{64}$/),
  }) as fc.Arbitrary<AuditEvent>,
  blockId: fc.option(fc.uuid(), { nil: null }),
  leafIndex: fc.option(fc.nat(), { nil: null }),
});

describe('copyLine', () => {
  it('equals the generic row encoding for arbitrary events, both hash forms', () => {
    fc.assert(
      fc.property(placed, fc.boolean(), (p, bytea) => {
        assert.equal(copyLine(p, bytea), reference(p, bytea));
      }),
      { numRuns: 2000 },
    );
  });
});
