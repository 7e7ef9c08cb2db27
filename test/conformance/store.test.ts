/**
 * The store port's conformance suite, run against every adapter: PostgreSQL (own schema
 * per test on the shared server, dropped after) and PGlite (own in-memory database).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sealEvent } from '../../src/core/canonical.js';
import { ErrorCodes } from '../../src/core/errors.js';
import type { AuditEvent, AuditEventInput } from '../../src/core/event.js';
import { validateEvent } from '../../src/core/validate.js';
import { loadMigrations } from '../../src/store/migrate.js';
import { PgliteStore } from '../../src/store/pglite/store.js';
import type { StoreAdapter } from '../../src/store/port.js';
import { PostgresStore } from '../../src/store/postgres/store.js';
import { DATABASE_URL, dropSchema, sql, uniqueSchema } from '../helpers/env.js';

const NOW = Date.now();
const DAY_MS = 86_400_000;

/** A valid, sealed event created `agoMs` before NOW. */
function ev(input: Partial<AuditEventInput> = {}, agoMs = 0): AuditEvent {
  return sealEvent(
    validateEvent({ event_type: 'doc.update', created_at: NOW - agoMs, ...input }, undefined, NOW),
  );
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

async function collect(it: AsyncIterable<AuditEvent>): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

const byPosition = (a: AuditEvent, b: AuditEvent) =>
  a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

interface Harness {
  name: string;
  /** A migrated store of its own; `twin` opens a second store on the same database/schema. */
  open(): Promise<{ store: StoreAdapter; twin(): Promise<StoreAdapter> }>;
}

const schemas: string[] = [];
const opened: StoreAdapter[] = [];

const harnesses: Harness[] = [
  {
    name: 'PostgresStore',
    async open() {
      const schema = uniqueSchema('store');
      schemas.push(schema);
      const make = async () => {
        const s = new PostgresStore({ connectionString: DATABASE_URL, schema, poolSize: 3 });
        opened.push(s);
        return s;
      };
      const store = await make();
      await store.migrate();
      return { store, twin: make };
    },
  },
  {
    name: 'PgliteStore',
    async open() {
      const store = new PgliteStore({ schema: 'auditline' });
      opened.push(store);
      await store.migrate();
      // PGlite has one connection per database: a second handle is the same store.
      return { store, twin: async () => store };
    },
  },
];

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(schemas.splice(0).map((s) => dropSchema(s)));
});

for (const h of harnesses) {
  describe(`store conformance: ${h.name}`, () => {
    it('migrates idempotently, also when two processes migrate at once', async () => {
      const { store, twin } = await h.open();
      const other = await twin();
      await Promise.all([store.migrate(), other.migrate(), store.migrate()]);
      assert.deepEqual(await store.append([ev()]), { inserted: 1, duplicates: 0 });
      assert.equal(await other.count(), 1);
    });

    it('reads back exactly the event that was appended', async () => {
      const { store } = await h.open();
      const full = sealEvent({
        ...validateEvent(
          {
            event_type: 'doc.share',
            tenant_id: 't1',
            user_id: 'ü\t\\N\n',
            resource_type: 'doc',
            resource_id: 'd-1',
            description: 'line 1\r\nline 2 \\ "quoted"',
            metadata: { a: [1, -0.5, 1e21, 5e-324, 'é😀'], nested: { b: null, c: true, '': '' } },
            ip_address: '::FFFF:192.0.2.1',
            user_agent: 'curl/8',
            created_at: NOW - 1234,
          },
          undefined,
          NOW,
        ),
        producer_id: 'p-1',
        producer_seq: 9_007_199_254_740_991,
      });
      // Regressions: a leading U+FEFF (PGlite's TextDecoder dropped it) and addresses that
      // host() prints with a dotted tail (normalizeIp once turned them into ::ffff:…).
      const bare = ev(
        { tenant_id: 't1', description: '\uFEFFbom', user_id: '\uFEFF', ip_address: '::1:0' },
        5,
      );
      const compat = ev({ tenant_id: 't1', ip_address: '::1.2.3.4' }, 7);
      assert.equal(compat.ip_address, '::102:304');
      await store.append([full, bare, compat]);
      const page = await store.query({ tenant_id: 't1' }, { limit: 10, order: 'asc' });
      assert.deepEqual(page.events, [full, bare, compat].sort(byPosition));
      assert.equal(page.nextCursor, null);
    });

    it('stores exactly one row per id when a batch is delivered again', async () => {
      const { store } = await h.open();
      const batch = Array.from({ length: 50 }, (_, i) => ev({ user_id: `u${i}` }, i));
      assert.deepEqual(await store.append(batch), { inserted: 50, duplicates: 0 });
      const mixed = [...batch.slice(0, 20), ev(), batch[0] as AuditEvent];
      assert.deepEqual(await store.append(mixed), { inserted: 1, duplicates: 21 });
      assert.deepEqual(await store.append([]), { inserted: 0, duplicates: 0 });
      assert.equal(await store.count(), 51);
    });

    it('stores one row per id when two workers append the same batch concurrently', async () => {
      const { store, twin } = await h.open();
      const other = await twin();
      const batch = Array.from({ length: 300 }, (_, i) => ev({ resource_id: `r${i}` }, i * 1000));
      const shuffled = [...batch].reverse();
      const results = await Promise.all([store.append(batch), other.append(shuffled), store.append(batch)]);
      assert.equal(
        results.reduce((n, r) => n + r.inserted, 0),
        300,
      );
      for (const r of results) assert.equal(r.inserted + r.duplicates, 300);
      assert.equal(await store.count(), 300);
    });

    it('creates partitions on demand for past months and months outside the initial window', async () => {
      const { store } = await h.open();
      const months = ['2024-02-29T23:59:59.999Z', '2030-07-01T00:00:00.000Z', '2030-06-30T23:59:59.999Z'];
      const events = [ev({}, 29 * DAY_MS), ...months.map((m) => sealEvent({ ...ev(), created_at: m }))];
      assert.deepEqual(await store.append(events), { inserted: 4, duplicates: 0 });
      const scanned = await collect(store.scan());
      assert.deepEqual(
        scanned.map((e) => e.created_at),
        events.map((e) => e.created_at).sort(),
      );
    });

    it('pages a tenant with filters, both orders, without gaps or repeats', async () => {
      const { store } = await h.open();
      const events: AuditEvent[] = [];
      for (let i = 0; i < 37; i++) {
        // Pairs share a created_at so the id must break ties.
        events.push(ev({ tenant_id: 'a', user_id: i % 3 === 0 ? 'alice' : 'bob' }, Math.floor(i / 2) * 1000));
      }
      events.push(ev({ tenant_id: 'b', user_id: 'alice' }, 10));
      await store.append(events);
      const aliceA = events.filter((e) => e.tenant_id === 'a' && e.user_id === 'alice').sort(byPosition);
      for (const order of ['asc', 'desc'] as const) {
        const seen: AuditEvent[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.query({ tenant_id: 'a', user_id: 'alice' }, { limit: 4, order, cursor });
          assert.ok(page.events.length <= 4);
          seen.push(...page.events);
          cursor = page.nextCursor;
        } while (cursor);
        assert.deepEqual(seen, order === 'asc' ? aliceA : [...aliceA].reverse());
      }
      const all = await store.query({ tenant_id: 'a' }, { limit: 1000 });
      assert.equal(all.events.length, 37);
      assert.equal(all.nextCursor, null);
      const exact = await store.query({ tenant_id: 'a' }, { limit: 37 });
      assert.equal(exact.nextCursor, null, 'no cursor when the page ends exactly at the last row');
    });

    it('filters by resource, type, category and a half-open time range', async () => {
      const { store } = await h.open();
      const t0 = NOW - 60_000;
      const mk = (input: Partial<AuditEventInput>, at: number) => ev({ tenant_id: 'r', ...input }, NOW - at);
      const e1 = mk({ resource_type: 'doc', resource_id: '1', event_type: 'doc.read' }, t0);
      const e2 = mk({ resource_type: 'doc', resource_id: '1', event_category: 'critical' }, t0 + 1000);
      const e3 = mk({ resource_type: 'doc', resource_id: '2' }, t0 + 2000);
      await store.append([e1, e2, e3]);
      const q = async (f: object) =>
        (await store.query({ tenant_id: 'r', ...f }, { limit: 10, order: 'asc' })).events.map((e) => e.id);
      assert.deepEqual(await q({ resource_type: 'doc', resource_id: '1' }), [e1.id, e2.id]);
      assert.deepEqual(await q({ event_type: 'doc.read' }), [e1.id]);
      assert.deepEqual(await q({ event_category: 'critical' }), [e2.id]);
      const iso = (ms: number) => new Date(ms).toISOString();
      assert.deepEqual(await q({ from: iso(t0 + 1000), to: iso(t0 + 2000) }), [e2.id]);
      assert.deepEqual(await q({ from: iso(t0 + 1000) }), [e2.id, e3.id]);
      assert.deepEqual(await q({ tenant_id: 'other' }), []);
    });

    it('rejects a bad limit, cursor or time bound with AUDIT_ERR_INVALID_QUERY', async () => {
      const { store } = await h.open();
      const q = (page: object, f: object = {}) =>
        codeOf(store.query({ tenant_id: 'a', ...f }, { limit: 10, ...page }));
      for (const limit of [0, 1001, 1.5]) assert.equal(await q({ limit }), ErrorCodes.INVALID_QUERY);
      assert.equal(await q({ cursor: 'not-a-cursor' }), ErrorCodes.INVALID_QUERY);
      assert.equal(
        await q({ cursor: Buffer.from('["x","y"]').toString('base64url') }),
        ErrorCodes.INVALID_QUERY,
      );
      assert.equal(await q({}, { from: 'yesterday' }), ErrorCodes.INVALID_QUERY);
    });

    it('scans every tenant in (created_at, id) order, in chunks, within a range', async () => {
      const { store } = await h.open();
      const events = Array.from({ length: 25 }, (_, i) =>
        ev({ tenant_id: `t${i % 4}` }, Math.floor(i / 3) * 10),
      );
      await store.append(events);
      const sorted = [...events].sort(byPosition);
      assert.deepEqual(await collect(store.scan({ chunkSize: 4 })), sorted);
      assert.deepEqual(await collect(store.scan({ chunkSize: 5 })), sorted, 'chunk size dividing the count');
      const from = sorted[5]?.created_at as string;
      const to = sorted[20]?.created_at as string;
      assert.deepEqual(
        await collect(store.scan({ from, to, chunkSize: 3 })),
        sorted.filter((e) => e.created_at >= from && e.created_at < to),
      );
      assert.equal(await store.count(), 25);
    });

    it('answers ping while open and refuses work once closed', async () => {
      const { store } = await h.open();
      await store.ping();
      await store.close();
      await store.close();
      assert.equal(await codeOf(store.ping()), ErrorCodes.CLOSED);
      assert.equal(await codeOf(store.append([ev()])), ErrorCodes.CLOSED);
    });
  });
}

describe('PostgresStore specifics', () => {
  it('records each migration once and creates the monthly partition window', async () => {
    const { store } = await (harnesses[0] as Harness).open();
    const schema = schemas[schemas.length - 1] as string;
    await store.migrate();
    const versions = await sql<{ version: number }>(
      `SELECT version FROM "${schema}".schema_migrations ORDER BY 1`,
    );
    assert.deepEqual(
      versions.map((v) => v.version),
      (await loadMigrations()).map((m) => m.version),
    );
    const parts = await sql<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = $1::regclass ORDER BY 1`,
      [`"${schema}".audit_logs`],
    );
    const month = (offset: number) => {
      const d = new Date(NOW);
      d.setUTCDate(1);
      d.setUTCMonth(d.getUTCMonth() + offset);
      return `audit_logs_${d.toISOString().slice(0, 7).replace('-', '_')}`;
    };
    for (const m of [-1, 0, 1, 2, 3])
      assert.ok(
        parts.some((p) => p.name === month(m)),
        month(m),
      );
  });

  it('ping rejects with AUDIT_ERR_STORE_UNAVAILABLE when PostgreSQL does not answer', async () => {
    const store = new PostgresStore({
      connectionString: 'postgres://postgres@127.0.0.1:1/none',
      connectionTimeoutMs: 2000,
    });
    try {
      assert.equal(await codeOf(store.ping()), ErrorCodes.STORE_UNAVAILABLE);
    } finally {
      await store.close();
    }
  });

  it('refuses a schema name that is not a plain identifier', () => {
    assert.throws(
      () => new PostgresStore({ connectionString: DATABASE_URL, schema: 'x"; DROP TABLE y; --' }),
      (err: { code?: string }) => err.code === ErrorCodes.CONFIG,
    );
  });
});
