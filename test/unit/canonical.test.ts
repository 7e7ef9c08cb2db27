import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import {
  canonicalForm,
  canonicalJson,
  hashEvent,
  jsonString,
  sealAndEncode,
  sortedKeys,
} from '../../src/core/canonical.js';
import type { AuditEvent, JsonObject, UnhashedEvent } from '../../src/core/event.js';

const text = fc.string({ unit: 'binary' }).filter((s) => s.isWellFormed() && !s.includes('\0'));
const nullable = fc.option(text, { nil: null });
const json: fc.Arbitrary<JsonObject> = fc
  .jsonValue()
  .map((v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : { v }) as JsonObject);

const event: fc.Arbitrary<UnhashedEvent> = fc.record({
  id: fc.uuid(),
  tenant_id: text,
  user_id: nullable,
  resource_type: nullable,
  resource_id: nullable,
  event_type: text,
  event_category: text,
  description: nullable,
  metadata: json,
  ip_address: nullable,
  user_agent: nullable,
  created_at: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  producer_id: nullable,
  producer_seq: fc.option(fc.integer({ min: 1 }), { nil: null }),
});

/** The same text built by the generic RFC 8785 implementation (the reference). */
function canonicalFormReference(e: UnhashedEvent): string {
  const text = canonicalize({ v: 1, ...e });
  if (text === undefined) throw new TypeError('not canonicalizable');
  return text;
}

describe('canonicalForm', () => {
  it('canonicalJson equals the generic RFC 8785 implementation on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        assert.equal(canonicalJson(v as JsonObject), canonicalize(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('equals the generic RFC 8785 canonicalization of the same fields', () => {
    fc.assert(
      fc.property(event, (e) => {
        assert.equal(canonicalForm(e), canonicalFormReference(e));
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes control characters and quotes as RFC 8785 requires', () => {
    const e: UnhashedEvent = {
      id: '00000000-0000-7000-8000-000000000000',
      tenant_id: 't"\\',
      user_id: '\u0001\n\u001f',
      resource_type: null,
      resource_id: null,
      event_type: '€😀',
      event_category: 'info',
      description: null,
      metadata: { b: 1e21, a: [0.1, -0, 5e-324] },
      ip_address: null,
      user_agent: null,
      created_at: '2026-01-01T00:00:00.000Z',
      producer_id: null,
      producer_seq: null,
    };
    assert.equal(canonicalForm(e), canonicalFormReference(e));
    assert.match(canonicalForm(e), /"user_id":"\\u0001\\n\\u001f"/);
    assert.match(canonicalForm(e), /"metadata":\{"a":\[0\.1,0,5e-324\],"b":1e\+21\}/);
  });
});

describe('sealAndEncode', () => {
  it('produces a payload that parses back to the sealed event', () => {
    fc.assert(
      fc.property(event, (e) => {
        const { event: sealed, payload } = sealAndEncode(e);
        assert.equal(sealed.hash, hashEvent(e));
        assert.deepEqual(Object.keys(sealed), [...Object.keys(e), 'hash']);
        assert.deepEqual(sealed, { ...e, hash: sealed.hash });
        const { v, ...parsed } = JSON.parse(payload) as AuditEvent & { v: number };
        assert.equal(v, 1);
        assert.deepEqual(parsed, JSON.parse(JSON.stringify(sealed)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('jsonString', () => {
  it('equals JSON.stringify on any string, lone surrogates and controls included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        assert.equal(jsonString(s), JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
    for (const s of ['', '"', '\\', '\u0000', '\u001f', '\u007f', '\ud800', 'a\udc00', '😀', '\u2028'])
      assert.equal(jsonString(s), JSON.stringify(s));
  });
});

describe('sortedKeys', () => {
  it('orders keys as the default sort does, for few keys and many', () => {
    const key = fc.string({ unit: 'binary', maxLength: 4 });
    fc.assert(
      fc.property(fc.dictionary(key, fc.constant(0), { maxKeys: 40 }), (o) => {
        assert.deepEqual(sortedKeys(o), Object.keys(o).sort());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('canonicalJson numbers', () => {
  it('writes numbers as JSON.stringify does, non-finite ones included', () => {
    fc.assert(
      fc.property(fc.double(), (n) => {
        assert.equal(canonicalJson(n), JSON.stringify(n));
      }),
      { numRuns: 3000 },
    );
  });
});
