import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEventId } from '../../src/core/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newEventId', () => {
  it('is a UUIDv7 carrying the millisecond timestamp', () => {
    const at = Date.parse('2026-11-26T17:00:00.123Z');
    const id = newEventId(at);
    assert.match(id, V7);
    assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
  });

  it('orders by time across milliseconds and does not repeat', () => {
    const ids = Array.from({ length: 50_000 }, (_, i) => newEventId(1_700_000_000_000 + Math.floor(i / 100)));
    assert.equal(new Set(ids).size, ids.length);
    for (let i = 100; i < ids.length; i += 100) assert.ok(ids[i - 1]!.slice(0, 13) < ids[i]!.slice(0, 13));
    for (const id of ids.slice(0, 1000)) assert.match(id, V7);
  });
});

describe('newEventId random part', () => {
  it('uses every hex digit in every random position, and only 8-b for the variant', () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let n = 0; n < 5000; n++) {
      const id = newEventId(1_700_000_000_000);
      for (let i = 0; i < 36; i++) seen[i]!.add(id[i]!);
    }
    for (const i of [15, 16, 17, 20, 21, 22, ...Array.from({ length: 12 }, (_, k) => 24 + k)])
      assert.equal(seen[i]!.size, 16, `position ${i}`);
    assert.deepEqual([...seen[19]!].sort(), ['8', '9', 'a', 'b']);
    assert.deepEqual([...seen[14]!], ['7']);
  });
});
