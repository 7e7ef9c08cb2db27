/**
 * `GET /v1/events`: filters and cursor pagination over events that went the whole way —
 * POSTed over HTTP, moved into the store by a real worker — on both adapter pairs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { verifyEventHash } from '../../src/core/canonical.js';
import { ErrorCodes } from '../../src/core/errors.js';
import type { AuditEvent, AuditEventInput } from '../../src/core/event.js';
import { buildApp } from '../../src/http/app.js';
import { Worker } from '../../src/worker/worker.js';
import { BACKENDS, type Backend } from './http-backends.js';

interface QueryAnswer {
  events: AuditEvent[];
  next_cursor: string | null;
}

const BASE_MS = Date.now() - 10 * 60_000;
const at = (i: number) => new Date(BASE_MS + i * 1000).toISOString();

/** 12 events in tenant "default" and 3 in tenant "acme", at distinct, known times. */
const EVENTS: (AuditEventInput & { created_at: string })[] = [
  ...Array.from({ length: 12 }, (_, i) => ({
    event_type: i % 3 === 0 ? 'document.delete' : 'document.update',
    user_id: i % 2 === 0 ? 'alice' : 'bob',
    resource_type: 'document',
    resource_id: `doc-${i % 4}`,
    event_category: i === 5 ? 'critical' : 'info',
    created_at: at(i),
  })),
  ...Array.from({ length: 3 }, (_, i) => ({
    tenant_id: 'acme',
    event_type: 'login',
    user_id: 'alice',
    created_at: at(100 + i),
  })),
];

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the worker');
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const kind of BACKENDS) {
  describe(`GET /v1/events — ${kind.name}`, () => {
    let b: Backend;
    let app: FastifyInstance;
    const idsByIndex: string[] = [];

    before(async () => {
      b = await kind.open();
      app = buildApp(b);
      const res = await app.inject({
        method: 'POST',
        url: '/v1/events',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(EVENTS),
      });
      assert.equal(res.statusCode, 202, res.body);
      idsByIndex.push(...res.json().map((r: { id: string }) => r.id));
      const worker = new Worker({ queue: b.queue, store: b.store, config: b.config });
      worker.start();
      try {
        await waitFor(async () => (await b.store.count()) === EVENTS.length);
      } finally {
        await worker.stop();
      }
    });
    after(async () => {
      await app.close();
      await b.close();
    });

    async function get(query: string): Promise<QueryAnswer> {
      const res = await app.inject({ method: 'GET', url: `/v1/events${query}` });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    }
    const ids = (a: QueryAnswer) => a.events.map((e) => e.id).sort();
    const expected = (pred: (e: AuditEventInput & { created_at: string }) => boolean) =>
      EVENTS.flatMap((e, i) => (pred(e) ? [idsByIndex[i] as string] : [])).sort();

    it('returns the tenant "default" by default, newest first, with verifiable hashes', async () => {
      const a = await get('');
      assert.deepEqual(
        ids(a),
        expected((e) => !e.tenant_id),
      );
      const times = a.events.map((e) => e.created_at);
      assert.deepEqual(times, [...times].sort().reverse());
      assert.ok(
        a.events.every((e) => verifyEventHash(e)),
        'hashes verify after the round trip',
      );
      assert.equal(a.next_cursor, null);
    });

    it('filters by tenant, user, resource, type, category and time range', async () => {
      assert.deepEqual(
        ids(await get('?tenant_id=acme')),
        expected((e) => e.tenant_id === 'acme'),
      );
      assert.deepEqual(
        ids(await get('?user_id=bob')),
        expected((e) => !e.tenant_id && e.user_id === 'bob'),
      );
      assert.deepEqual(
        ids(await get('?resource_type=document&resource_id=doc-1')),
        expected((e) => e.resource_id === 'doc-1'),
      );
      assert.deepEqual(
        ids(await get('?event_type=document.delete&user_id=alice')),
        expected((e) => e.event_type === 'document.delete' && e.user_id === 'alice' && !e.tenant_id),
      );
      assert.deepEqual(
        ids(await get('?event_category=critical')),
        expected((e) => e.event_category === 'critical'),
      );
      // from is inclusive, to exclusive; epoch milliseconds work too.
      assert.deepEqual(
        ids(await get(`?from=${encodeURIComponent(at(3))}&to=${BASE_MS + 7000}`)),
        expected((e) => !e.tenant_id && e.created_at >= at(3) && e.created_at < at(7)),
      );
      assert.deepEqual((await get('?user_id=nobody')).events, []);
    });

    for (const order of ['asc', 'desc'] as const) {
      it(`pages with a cursor (order ${order}): every event once, in order`, async () => {
        const seen: AuditEvent[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const q: string = `?limit=5&order=${order}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const a = await get(q);
          assert.ok(a.events.length <= 5);
          seen.push(...a.events);
          cursor = a.next_cursor;
          pages++;
        } while (cursor !== null && pages < 10);
        assert.equal(pages, 3);
        assert.deepEqual(
          seen.map((e) => e.id).sort(),
          expected((e) => !e.tenant_id),
        );
        assert.equal(new Set(seen.map((e) => e.id)).size, 12);
        const times = seen.map((e) => e.created_at);
        const sorted = [...times].sort();
        assert.deepEqual(times, order === 'asc' ? sorted : sorted.reverse());
      });
    }

    it('rejects bad parameters with 400 AUDIT_ERR_INVALID_QUERY', async () => {
      for (const q of [
        '?limit=0',
        '?limit=1001',
        '?limit=ten',
        '?limit=-1',
        '?order=sideways',
        '?from=yesterday',
        '?to=2026-01-01T00:00:00',
        '?tenant_id=',
        '?colour=blue',
        '?user_id=a&user_id=b',
        '?user_id=a%00b',
        `?resource_id=${'r'.repeat(257)}`,
        '?cursor=not-a-cursor',
      ]) {
        const res = await app.inject({ method: 'GET', url: `/v1/events${q}` });
        assert.equal(res.statusCode, 400, `${q}: ${res.body}`);
        const body = res.json();
        assert.equal(body.error.code, ErrorCodes.INVALID_QUERY, q);
      }
    });
  });
}
