/**
 * Property: every event that validation accepts verifies after a round trip through the
 * store (append, then read back by `query` and by `scan`), on PostgreSQL and on PGlite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalForm, sealEvent, verifyEventHash } from '../../src/core/canonical.js';
import type { AuditEvent, JsonValue } from '../../src/core/event.js';
import { badStringReason, validateEvent } from '../../src/core/validate.js';
import { PgliteStore } from '../../src/store/pglite/store.js';
import type { StoreAdapter } from '../../src/store/port.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { DATABASE_URL, dropSchema, uniqueSchema } from '../helpers/env.js';

const NOW = Date.now();

// Strings across the whole code-point range (astral included) plus the awkward ones.
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '',
    ' ',
    'e\u0301',
    '😀👩‍👩‍👧',
    '𝔘𝔫𝔦',
    '\\',
    '\\N',
    '\t\n\r',
    '"\'',
    '\u2028\u2029',
    '\uFEFF',
  ),
);
const nullableText = fc.option(text, { nil: null });

const hex4 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv4 = fc
  .tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 255 })))
  .map((p) => p.join('.'));
const ipv6 = fc.oneof(
  fc.array(hex4, { minLength: 8, maxLength: 8 }).map((p) => p.join(':')),
  fc.array(hex4, { minLength: 8, maxLength: 8 }).map((p) => p.join(':').toUpperCase()),
  fc.array(hex4, { minLength: 8, maxLength: 8 }).map((p) => p.map((x) => x.padStart(4, '0')).join(':')),
  fc
    .tuple(fc.array(hex4, { maxLength: 3 }), fc.array(hex4, { maxLength: 3 }))
    .map(([a, b]) => `${a.join(':')}::${b.join(':')}`),
  ipv4.map((v4) => `::ffff:${v4}`),
  ipv4.map((v4) => `::FFFF:${v4}`),
  ipv4.map((v4) => `64:ff9b::${v4}`),
  fc.constantFrom(
    '::',
    '::1',
    '::ffff:0:0',
    'fe80::1',
    '2001:DB8:0:0:1:0:0:1',
    '2001:db8::1:0:0:1',
    'ff02::2',
  ),
);

const number = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    1e21,
    5e-324,
    -0,
    Number.MAX_SAFE_INTEGER + 2,
    0.1,
    -1e-7,
    1.7976931348623157e308,
    123456789.125,
  ),
);
const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(text, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const input = fc.record(
  {
    event_type: text.filter((s) => s.trim() !== ''),
    tenant_id: text.filter((s) => s !== ''),
    user_id: nullableText,
    resource_type: nullableText,
    resource_id: nullableText,
    description: nullableText,
    user_agent: nullableText,
    event_category: fc.constantFrom('info', 'critical'),
    metadata: fc.dictionary(text, json, { maxKeys: 6 }),
    ip_address: fc.option(fc.oneof(ipv4, ipv6), { nil: null }),
    created_at: fc.integer({ min: NOW - 29 * 86_400_000, max: NOW }),
  },
  { requiredKeys: ['event_type'] },
);

const producer = fc.record({
  // Set by the logger, not validated per event: generate only what a logger could produce.
  producer_id: fc.option(
    text.filter((s) => badStringReason(s) === null),
    { nil: null },
  ),
  producer_seq: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { nil: null }),
});

/** Validates and seals; null for inputs validation rightly rejects (e.g. lone surrogates). */
function accept(
  raw: unknown,
  p: { producer_id: string | null; producer_seq: number | null },
): AuditEvent | null {
  try {
    return sealEvent({ ...validateEvent(raw, undefined, NOW), ...p });
  } catch {
    return null;
  }
}

interface Target {
  name: string;
  open(): Promise<StoreAdapter>;
  cleanup(): Promise<void>;
}

const pgSchema = uniqueSchema('hashrt');
const targets: Target[] = [
  {
    name: 'PostgreSQL',
    open: async () => new PostgresStore({ connectionString: DATABASE_URL, schema: pgSchema, poolSize: 2 }),
    cleanup: () => dropSchema(pgSchema),
  },
  { name: 'PGlite', open: async () => new PgliteStore(), cleanup: async () => {} },
];

for (const t of targets) {
  describe(`hash round trip: ${t.name}`, () => {
    let store: StoreAdapter;
    before(async () => {
      store = await t.open();
      await store.migrate();
    });
    after(async () => {
      await store.close();
      await t.cleanup();
    });

    it('every accepted event verifies after append → query and append → scan', async () => {
      let tenant = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(input, producer), { minLength: 1, maxLength: 8 }),
          async (pairs) => {
            // A tenant per run keeps runs apart in `query`, whatever tenant_id was generated.
            const run = `run-${tenant++}`;
            const events = pairs
              .map(([raw, p]) => accept({ ...raw, tenant_id: run }, p))
              .filter((e): e is AuditEvent => e !== null);
            if (events.length === 0) return;
            await store.append(events);
            const page = await store.query({ tenant_id: run }, { limit: 1000 });
            const byId = new Map(page.events.map((e) => [e.id, e]));
            for (const e of events) {
              const back = byId.get(e.id);
              assert.ok(back, `event ${e.id} read back`);
              // Canonical forms, not deepEqual: -0 in metadata reads back as 0, which RFC 8785
              // serializes identically.
              assert.equal(canonicalForm(back), canonicalForm(e));
              assert.equal(back.hash, e.hash);
              assert.ok(verifyEventHash(back), `hash of ${JSON.stringify(e)}`);
            }
          },
        ),
        { numRuns: 150 },
      );
      // And through scan (all tenants), as `verify` reads them.
      let n = 0;
      for await (const e of store.scan({ chunkSize: 97 })) {
        assert.ok(verifyEventHash(e), `scan: ${JSON.stringify(e)}`);
        n++;
      }
      assert.equal(n, await store.count());
    });

    it('tenant ids themselves round-trip (unicode, empty-looking, escapes)', async () => {
      await fc.assert(
        fc.asyncProperty(input, producer, async (raw, p) => {
          const e = accept(raw, p);
          if (e === null) return;
          await store.append([e]);
          const back = (await store.query({ tenant_id: e.tenant_id }, { limit: 1000 })).events.find(
            (x) => x.id === e.id,
          );
          assert.ok(back, 'read back');
          assert.equal(canonicalForm(back), canonicalForm(e));
          assert.ok(verifyEventHash(back));
        }),
        { numRuns: 100 },
      );
    });
  });
}
