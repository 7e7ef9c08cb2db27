/**
 * The HTTP ingest contract (issue 2, item 8 and "Bad input") driven with `app.inject()`
 * against real adapters. Every rejected request must leave the queue exactly as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ErrorCodes } from '../../src/core/errors.js';
import { buildApp } from '../../src/http/app.js';
import { toErrorResponse } from '../../src/http/errors.js';
import { RedisStreamsQueue } from '../../src/queue/index.js';
import { PostgresStore } from '../../src/store/index.js';
import { DATABASE_URL, uniqueId } from '../helpers/env.js';
import { BACKENDS, type Backend, closedPort } from './http-backends.js';
import { BAD_EVENTS } from './http-bad-events.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const JSON_HEADERS = { 'content-type': 'application/json' };

function post(app: FastifyInstance, body: unknown, headers: Record<string, string> = JSON_HEADERS) {
  return app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts the one error shape, the code and the status, and that no stack trace leaked. */
function assertError(res: LightMyRequestResponse, status: number, code: string) {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(!/\bat .+:\d+:\d+/.test(res.body), 'no stack trace in the body');
  return body.error;
}

for (const kind of BACKENDS) {
  describe(`POST /v1/events — ${kind.name}`, () => {
    let b: Backend;
    let app: FastifyInstance;
    before(async () => {
      b = await kind.open();
      app = buildApp(b);
      await app.ready();
    });
    after(async () => {
      await app.close();
      await b.close();
    });

    /**
     * Runs a request that must be rejected and checks that it queued nothing. A valid event
     * sent afterwards is a barrier: once it is queued, anything the rejected request had
     * (wrongly) handed to the logger would have been queued before it.
     */
    async function rejected(send: () => Promise<LightMyRequestResponse>, status: number, code: string) {
      const depth = await b.queue.depth();
      const res = await send();
      const error = assertError(res, status, code);
      assert.equal((await post(app, { event_type: 'barrier' })).statusCode, 202);
      assert.equal(await b.queue.depth(), depth + 1, 'nothing from a rejected request is queued');
      return error;
    }

    it('accepts one event: 202 with a one-element array of { id, hash, outcome }', async () => {
      const depth = await b.queue.depth();
      const res = await post(app, { event_type: 'document.update', user_id: 'u1' });
      assert.equal(res.statusCode, 202, res.body);
      const body = res.json();
      assert.equal(body.length, 1);
      assert.deepEqual(Object.keys(body[0]).sort(), ['hash', 'id', 'outcome']);
      assert.match(body[0].id, UUID_RE);
      assert.match(body[0].hash, /^[0-9a-f]{64}$/);
      assert.equal(body[0].outcome, 'queued');
      assert.equal(await b.queue.depth(), depth + 1);
    });

    it('accepts a batch: one result per event, in order, keeping supplied ids', async () => {
      const depth = await b.queue.depth();
      const id = '0192F0C8-0000-7000-8000-00000000000A';
      const events = [
        { event_type: 'a', id },
        { event_type: 'b' },
        { event_type: 'c', metadata: { k: [1, 'ü😀'] } },
      ];
      const res = await post(app, events);
      assert.equal(res.statusCode, 202, res.body);
      const body = res.json() as { id: string; hash: string; outcome: string }[];
      assert.equal(body.length, 3);
      assert.equal(body[0]?.id, id.toLowerCase());
      assert.equal(new Set(body.map((r) => r.id)).size, 3);
      assert.ok(body.every((r) => r.outcome === 'queued'));
      assert.equal(await b.queue.depth(), depth + 3);
    });

    it('accepts a batch of exactly maxBatchEvents', async () => {
      const events = Array.from({ length: 1000 }, (_, i) => ({ event_type: 'bulk', resource_id: String(i) }));
      const res = await post(app, events);
      assert.equal(res.statusCode, 202);
      assert.equal(res.json().length, 1000);
    });

    for (const c of BAD_EVENTS) {
      it(`rejects ${c.name} with ${c.code}`, async () => {
        const error = await rejected(() => post(app, c.event), 400, ErrorCodes.INVALID_EVENT);
        assert.equal(error.invalid.length, 1);
        assert.equal(error.invalid[0].index, 0);
        const issues = error.invalid[0].issues as { field: string; code: string; message: string }[];
        assert.ok(
          issues.some((i) => i.field === c.field && i.code === c.code && i.message.length > 0),
          JSON.stringify(issues),
        );
      });
    }

    it('rejects a whole batch when some events are invalid, listing each invalid index', async () => {
      const events = [
        { event_type: 'ok' },
        { event_type: '' },
        { event_type: 'ok' },
        { event_type: 'x', ip_address: 'no' },
      ];
      const error = await rejected(() => post(app, events), 400, ErrorCodes.INVALID_EVENT);
      assert.deepEqual(
        error.invalid.map((e: { index: number; issues: { code: string }[] }) => [e.index, e.issues[0]?.code]),
        [
          [1, ErrorCodes.FIELD_EMPTY],
          [3, ErrorCodes.INVALID_IP],
        ],
      );
    });

    it('rejects a batch over 1,000 events with AUDIT_ERR_BATCH_TOO_LARGE', async () => {
      const events = Array.from({ length: 1001 }, () => ({ event_type: 'a' }));
      await rejected(() => post(app, events), 400, ErrorCodes.BATCH_TOO_LARGE);
    });

    it('rejects an empty batch with AUDIT_ERR_BATCH_EMPTY', async () => {
      await rejected(() => post(app, []), 400, ErrorCodes.BATCH_EMPTY);
    });

    it('rejects malformed JSON with AUDIT_ERR_MALFORMED_JSON', async () => {
      await rejected(() => post(app, '{"event_type": "a",'), 400, ErrorCodes.MALFORMED_JSON);
      await rejected(() => post(app, '[{"event_type":"a"}, nope]'), 400, ErrorCodes.MALFORMED_JSON);
      await rejected(() => post(app, ''), 400, ErrorCodes.MALFORMED_JSON);
      // A prototype-poisoning key is refused, not silently removed from the hashed event.
      await rejected(
        () => post(app, '{"event_type":"a","__proto__":{"x":1}}'),
        400,
        ErrorCodes.MALFORMED_JSON,
      );
    });

    it('rejects a wrong or missing content type with 415', async () => {
      const body = JSON.stringify({ event_type: 'a' });
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        await rejected(
          () => post(app, body, { 'content-type': type }),
          415,
          ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
        );
      }
      await rejected(
        () => app.inject({ method: 'POST', url: '/v1/events', payload: Buffer.from(body) }),
        415,
        ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
      );
      await rejected(
        () => app.inject({ method: 'POST', url: '/v1/events' }),
        415,
        ErrorCodes.UNSUPPORTED_MEDIA_TYPE,
      );
    });

    it('accepts application/json with a charset parameter', async () => {
      const res = await post(app, { event_type: 'a' }, { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(res.statusCode, 202);
    });

    it('rejects a body over the limit (1 MiB) with 413', async () => {
      const events = Array.from({ length: 40 }, () => ({
        event_type: 'a',
        metadata: { s: 'x'.repeat(30_000) },
      }));
      const payload = JSON.stringify(events);
      assert.ok(payload.length > 1024 * 1024);
      await rejected(() => post(app, payload), 413, ErrorCodes.BODY_TOO_LARGE);
    });

    it('answers unknown routes with the same error shape', async () => {
      assertError(await app.inject({ method: 'GET', url: '/v1/nope' }), 404, ErrorCodes.NOT_FOUND);
    });
  });

  describe(`health — ${kind.name}`, () => {
    let b: Backend;
    let app: FastifyInstance;
    before(async () => {
      b = await kind.open();
      app = buildApp(b);
    });
    after(async () => {
      await app.close();
      await b.close();
    });

    it('GET /healthz answers 200 { status: "ok" }', async () => {
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'ok' });
    });

    it('GET /readyz answers 200 when queue and store answer', async () => {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { status: 'ready', checks: { queue: 'ok', store: 'ok' } });
    });
  });
}

describe('GET /readyz when a backend is unreachable', () => {
  let b: Backend;
  before(async () => {
    b = await BACKENDS[0]!.open();
  });
  after(() => b.close());

  it('answers 503 naming the queue when Redis does not answer', async () => {
    const queue = new RedisStreamsQueue({
      url: `redis://127.0.0.1:${await closedPort()}`,
      keyPrefix: 'x',
      maxLength: 10,
    });
    const app = buildApp({ ...b, queue }, { readyTimeoutMs: 1000 });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      const error = assertError(res, 503, ErrorCodes.NOT_READY);
      assert.deepEqual(error.failed, ['queue']);
      assert.equal(error.checks.store, 'ok');
      assert.notEqual(error.checks.queue, 'ok');
      // Liveness does not depend on the backends.
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    } finally {
      await app.close();
      await queue.close();
    }
  });

  it('answers 503 naming the store when PostgreSQL does not answer', async () => {
    const url = new URL(DATABASE_URL);
    url.port = String(await closedPort());
    const store = new PostgresStore({
      connectionString: url.toString(),
      schema: `x_${uniqueId()}`,
      poolSize: 1,
    });
    const app = buildApp({ ...b, store }, { readyTimeoutMs: 1000 });
    try {
      const error = assertError(
        await app.inject({ method: 'GET', url: '/readyz' }),
        503,
        ErrorCodes.NOT_READY,
      );
      assert.deepEqual(error.failed, ['store']);
      assert.equal(error.checks.queue, 'ok');
    } finally {
      await app.close();
      await store.close();
    }
  });
});

describe('API keys', () => {
  const KEYS = ['k-one', 'a-much-longer-second-key'];
  let b: Backend;
  let app: FastifyInstance;
  before(async () => {
    b = await BACKENDS[0]!.open({ apiKeys: KEYS });
    app = buildApp(b);
  });
  after(async () => {
    await app.close();
    await b.close();
  });

  const withAuth = (value: string) => ({ ...JSON_HEADERS, authorization: value });

  it('rejects /v1 requests without a key, with a wrong key or another scheme (401)', async () => {
    const depth = await b.queue.depth();
    for (const headers of [
      JSON_HEADERS,
      withAuth('Bearer nope'),
      withAuth('Bearer k-on'),
      withAuth('Bearer k-one-'),
      withAuth('Basic k-one'),
      withAuth('k-one'),
      withAuth('Bearer '),
    ]) {
      const res = await post(app, { event_type: 'a' }, headers);
      assertError(res, 401, ErrorCodes.UNAUTHORIZED);
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    assertError(await app.inject({ method: 'GET', url: '/v1/events' }), 401, ErrorCodes.UNAUTHORIZED);
    assert.equal(await b.queue.depth(), depth);
  });

  it('checks the key before reading the body', async () => {
    assertError(await post(app, '{not json', { 'content-type': 'text/plain' }), 401, ErrorCodes.UNAUTHORIZED);
  });

  it('accepts any configured key', async () => {
    for (const key of KEYS) {
      const res = await post(app, { event_type: 'a' }, withAuth(`Bearer ${key}`));
      assert.equal(res.statusCode, 202, res.body);
    }
    const res = await app.inject({
      method: 'GET',
      url: '/v1/events',
      headers: { authorization: `Bearer ${KEYS[0]}` },
    });
    assert.equal(res.statusCode, 200, res.body);
  });

  it('leaves /healthz and /readyz open', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });
});

describe('errors from the backends', () => {
  it('answers 503 AUDIT_ERR_CLOSED once the logger and store are closed', async () => {
    const b = await BACKENDS[0]!.open();
    await b.close();
    const app = buildApp(b);
    try {
      assertError(await post(app, { event_type: 'a' }), 503, ErrorCodes.CLOSED);
      assertError(await app.inject({ method: 'GET', url: '/v1/events' }), 503, ErrorCodes.CLOSED);
    } finally {
      await app.close();
    }
  });

  it('maps unexpected errors to 500 AUDIT_ERR_INTERNAL without their message', () => {
    const { statusCode, body } = toErrorResponse(new Error('password=hunter2 at db.js:1:2'));
    assert.equal(statusCode, 500);
    assert.deepEqual(body, { error: { code: ErrorCodes.INTERNAL, message: 'internal error' } });
  });
});
