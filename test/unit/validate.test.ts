import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import fc from 'fast-check';
import {
  canonicalJson,
  hashEvent,
  sealAndEncode,
  sealEvent,
  verifyEventHash,
} from '../../src/core/canonical.js';
import { ErrorCodes, EventValidationError } from '../../src/core/errors.js';
import type { JsonObject } from '../../src/core/event.js';
import {
  canonicalMetadata,
  checkJson,
  DEFAULT_VALIDATION,
  normalizeIp,
  validateEvent,
  validateEventWithJson,
} from '../../src/core/validate.js';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');

function codesOf(input: unknown, opts = DEFAULT_VALIDATION): string[] {
  try {
    validateEvent(input, opts, NOW);
  } catch (err) {
    assert.ok(err instanceof EventValidationError, 'throws EventValidationError');
    assert.equal(err.code, ErrorCodes.INVALID_EVENT);
    return err.issues.map((i) => `${i.field}:${i.code}`);
  }
  return [];
}

describe('validateEvent', () => {
  it('fills defaults and generates a UUIDv7 id', () => {
    const e = validateEvent({ event_type: 'user.login' }, DEFAULT_VALIDATION, NOW);
    assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(e.tenant_id, 'default');
    assert.equal(e.event_category, 'info');
    assert.deepEqual(e.metadata, {});
    assert.equal(e.created_at, '2026-06-15T12:00:00.000Z');
    assert.equal(e.user_id, null);
  });

  it('keeps a supplied id (lower-cased) and created_at at millisecond precision', () => {
    const e = validateEvent(
      {
        event_type: 'x',
        id: '0192F0C8-0000-7000-8000-000000000001',
        created_at: '2026-06-15T13:59:59.123456+02:00',
      },
      DEFAULT_VALIDATION,
      NOW,
    );
    assert.equal(e.id, '0192f0c8-0000-7000-8000-000000000001');
    assert.equal(e.created_at, '2026-06-15T11:59:59.123Z');
  });

  it('rejects a missing, empty or non-string event_type', () => {
    assert.deepEqual(codesOf({}), ['event_type:AUDIT_ERR_FIELD_REQUIRED']);
    assert.deepEqual(codesOf({ event_type: '' }), ['event_type:AUDIT_ERR_FIELD_EMPTY']);
    assert.deepEqual(codesOf({ event_type: '  ' }), ['event_type:AUDIT_ERR_FIELD_EMPTY']);
    assert.deepEqual(codesOf({ event_type: 5 }), ['event_type:AUDIT_ERR_FIELD_TYPE']);
  });

  it('rejects wrong types for every field', () => {
    for (const field of [
      'tenant_id',
      'user_id',
      'resource_type',
      'resource_id',
      'description',
      'user_agent',
    ]) {
      assert.deepEqual(codesOf({ event_type: 'a', [field]: 42 }), [`${field}:AUDIT_ERR_FIELD_TYPE`], field);
    }
    assert.deepEqual(codesOf({ event_type: 'a', event_category: 1 }), [
      'event_category:AUDIT_ERR_FIELD_TYPE',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', tenant_id: null }), ['tenant_id:AUDIT_ERR_FIELD_TYPE']);
    assert.deepEqual(codesOf({ event_type: 'a', ip_address: 7 }), ['ip_address:AUDIT_ERR_FIELD_TYPE']);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: [] }), ['metadata:AUDIT_ERR_METADATA_TYPE']);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: 'x' }), ['metadata:AUDIT_ERR_METADATA_TYPE']);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: true }), [
      'created_at:AUDIT_ERR_INVALID_TIMESTAMP',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', id: 12 }), ['id:AUDIT_ERR_INVALID_ID']);
    assert.deepEqual(codesOf('nope'), ['(event):AUDIT_ERR_NOT_AN_OBJECT']);
    assert.deepEqual(codesOf([{ event_type: 'a' }]), ['(event):AUDIT_ERR_NOT_AN_OBJECT']);
  });

  it('rejects unknown top-level fields and unknown categories', () => {
    assert.deepEqual(codesOf({ event_type: 'a', actor: 'me' }), ['actor:AUDIT_ERR_UNKNOWN_FIELD']);
    assert.deepEqual(codesOf({ event_type: 'a', event_category: 'loud' }), [
      'event_category:AUDIT_ERR_UNKNOWN_CATEGORY',
    ]);
    const opts = { ...DEFAULT_VALIDATION, categories: ['critical', 'info', 'security'] };
    assert.deepEqual(codesOf({ event_type: 'a', event_category: 'security' }, opts), []);
  });

  it('rejects metadata too deep, too large, or holding non-JSON values', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 16; i++) {
      const next = {};
      deep.n = next;
      deep = next;
    }
    assert.deepEqual(
      codesOf({ event_type: 'a', metadata: root }).map((c) => c.split(':')[1]),
      ['AUDIT_ERR_METADATA_TOO_DEEP'],
    );
    let ok: Record<string, unknown> = {};
    const okRoot = ok;
    for (let i = 0; i < 15; i++) {
      const next = {};
      ok.n = next;
      ok = next;
    }
    assert.deepEqual(codesOf({ event_type: 'a', metadata: okRoot }), []);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { s: 'x'.repeat(33 * 1024) } }), [
      'metadata:AUDIT_ERR_METADATA_TOO_LARGE',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { n: Number.NaN } }), [
      'metadata.n:AUDIT_ERR_METADATA_TYPE',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { d: new Date() } }), [
      'metadata.d:AUDIT_ERR_METADATA_TYPE',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { u: undefined } }), [
      'metadata.u:AUDIT_ERR_METADATA_TYPE',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { b: 1n } }), [
      'metadata.b:AUDIT_ERR_METADATA_TYPE',
    ]);
  });

  it('rejects NUL characters and lone surrogates anywhere', () => {
    assert.deepEqual(codesOf({ event_type: 'a\u0000b' }), ['event_type:AUDIT_ERR_INVALID_STRING']);
    assert.deepEqual(codesOf({ event_type: 'a', description: 'x\ud800' }), [
      'description:AUDIT_ERR_INVALID_STRING',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', user_id: '\udc00x' }), ['user_id:AUDIT_ERR_INVALID_STRING']);
    assert.deepEqual(codesOf({ event_type: 'a', metadata: { k: ['ok', 'bad\u0000'] } }), [
      'metadata.k[1]:AUDIT_ERR_INVALID_STRING',
    ]);
    assert.deepEqual(
      codesOf({ event_type: 'a', metadata: { 'k\ud83d': 1 } }).map((c) => c.split(':')[1]),
      ['AUDIT_ERR_INVALID_STRING'],
    );
    assert.deepEqual(codesOf({ event_type: 'emoji 😀 ok' }), []);
  });

  it('rejects strings over their length limits', () => {
    assert.deepEqual(codesOf({ event_type: 'x'.repeat(129) }), ['event_type:AUDIT_ERR_STRING_TOO_LONG']);
    assert.deepEqual(codesOf({ event_type: 'a', description: 'x'.repeat(4097) }), [
      'description:AUDIT_ERR_STRING_TOO_LONG',
    ]);
  });

  it('validates and normalizes IP addresses', () => {
    assert.deepEqual(codesOf({ event_type: 'a', ip_address: '300.1.1.1' }), [
      'ip_address:AUDIT_ERR_INVALID_IP',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', ip_address: 'fe80::1%eth0' }), [
      'ip_address:AUDIT_ERR_INVALID_IP',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', ip_address: '10.0.0.0/8' }), [
      'ip_address:AUDIT_ERR_INVALID_IP',
    ]);
    assert.equal(normalizeIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(normalizeIp('::ffff:1.2.3.4'), normalizeIp('::ffff:0102:0304'));
    assert.equal(normalizeIp('192.168.0.1'), '192.168.0.1');
  });

  it('bounds created_at: at most 5 minutes ahead by default', () => {
    assert.deepEqual(codesOf({ event_type: 'a', created_at: '2026-06-15T12:04:59.000Z' }), []);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: '2026-06-15T12:05:01.000Z' }), [
      'created_at:AUDIT_ERR_TIMESTAMP_OUT_OF_BOUNDS',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: '2020-01-01T00:00:00Z' }), [
      'created_at:AUDIT_ERR_TIMESTAMP_OUT_OF_BOUNDS',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: 'yesterday' }), [
      'created_at:AUDIT_ERR_INVALID_TIMESTAMP',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: '2026-06-15T12:00:00' }), [
      'created_at:AUDIT_ERR_INVALID_TIMESTAMP',
    ]);
    assert.deepEqual(codesOf({ event_type: 'a', created_at: Number.NaN }), [
      'created_at:AUDIT_ERR_INVALID_TIMESTAMP',
    ]);
  });

  it('reports every problem at once', () => {
    assert.equal(codesOf({ event_type: '', user_id: 1, ip_address: 'x', extra: 1 }).length, 4);
  });
});

describe('canonical hash', () => {
  it('is stable across key order and changes with any field', () => {
    const a = validateEvent({ event_type: 'a', metadata: { x: 1, y: [1, 'b'] } }, DEFAULT_VALIDATION, NOW);
    const b = { ...a, metadata: { y: [1, 'b'], x: 1 } };
    assert.equal(hashEvent(a), hashEvent(b));
    assert.notEqual(hashEvent(a), hashEvent({ ...a, user_id: 'u' }));
    const sealed = sealEvent(a);
    assert.ok(verifyEventHash(sealed));
    assert.ok(!verifyEventHash({ ...sealed, description: 'changed' }));
  });
});

describe('canonicalMetadata', () => {
  const asObject = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { v };
  // Mostly JSON, with now and then a key or value checkJson rejects: NUL, lone surrogates,
  // non-finite numbers, non-JSON types; nesting up to about 6 levels for the depth limit.
  const text = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constantFrom('\0', 'a\ud800', '\udc00b', '"\\\n', '😀', '\u2028') },
  );
  const notJson = fc.constantFrom<unknown>(
    undefined,
    1n,
    new Date(0),
    () => 1,
    Symbol('s'),
    new Map(),
    new Number(1),
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Object.create(null),
  );
  const leaf = fc.oneof(
    { weight: 12, arbitrary: fc.oneof(text, fc.double(), fc.integer(), fc.boolean(), fc.constant(null)) },
    { weight: 1, arbitrary: notJson },
  );
  const { object: anything } = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  })) as { object: fc.Arbitrary<Record<string, unknown>> };

  it('equals canonicalJson and the RFC 8785 reference on valid JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue().map(asObject), (v) => {
        const text = canonicalMetadata(v, 16);
        assert.equal(text, canonicalJson(v as JsonObject));
        assert.equal(text, canonicalize(v));
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects exactly what checkJson rejects, with the same issue', () => {
    fc.assert(
      fc.property(anything, fc.integer({ min: 1, max: 6 }), (v, maxDepth) => {
        const issue = checkJson(v, 'metadata', 1, maxDepth);
        const res = canonicalMetadata(v, maxDepth);
        if (issue) assert.deepEqual(res, issue);
        else assert.equal(res, canonicalJson(v as JsonObject));
      }),
      { numRuns: 5000 },
    );
    const deep = (n: number): unknown => (n === 0 ? 1 : [deep(n - 1)]);
    assert.equal(canonicalMetadata({ a: deep(15) }, 16), `{"a":${'['.repeat(15)}1${']'.repeat(15)}}`);
    assert.equal(
      (canonicalMetadata({ a: deep(16) }, 16) as { code: string }).code,
      'AUDIT_ERR_METADATA_TOO_DEEP',
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal((canonicalMetadata(cyclic, 16) as { code: string }).code, 'AUDIT_ERR_METADATA_TOO_DEEP');
  });

  it('reports the first problem in insertion order, not sorted order', () => {
    assert.deepEqual(canonicalMetadata({ b: Number.NaN, a: undefined }, 16), {
      field: 'metadata.b',
      code: ErrorCodes.METADATA_TYPE,
      message: 'numbers must be finite',
    });
  });

  it('hands validateEvent the text sealing uses, and sizes metadata as JSON.stringify does', () => {
    fc.assert(
      fc.property(fc.jsonValue().map(asObject), (metadata) => {
        const { event, metadataJson } = validateEventWithJson(
          { event_type: 'a', metadata },
          DEFAULT_VALIDATION,
          NOW,
        );
        assert.equal(metadataJson, canonicalJson(event.metadata));
        assert.equal(sealAndEncode(event, metadataJson).event.hash, hashEvent(event));
        const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
        const at = (metadataMaxBytes: number) => ({ ...DEFAULT_VALIDATION, metadataMaxBytes });
        assert.deepEqual(codesOf({ event_type: 'a', metadata }, at(bytes)), []);
        try {
          validateEvent({ event_type: 'a', metadata }, at(bytes - 1), NOW);
          assert.fail('accepted metadata over the limit');
        } catch (err) {
          assert.ok(err instanceof EventValidationError);
          assert.deepEqual(err.issues, [
            {
              field: 'metadata',
              code: ErrorCodes.METADATA_TOO_LARGE,
              message: `${bytes} bytes serialized; the limit is ${bytes - 1}`,
            },
          ]);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
