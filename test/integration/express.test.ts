/**
 * The Express integration against a real logger in embedded mode: the example app (and a
 * few small apps) over real HTTP on 127.0.0.1, then the rows read back from PGlite after
 * the logger is closed. Proves `req.audit()` fills the client IP honouring `trust proxy`,
 * the user agent and the user/tenant ids, and that the metrics router answers as specified.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import express, { type Express } from 'express';
import { createApp } from '../../examples/express/app.js';
import { verifyEventHash } from '../../src/core/canonical.js';
import { AuditError, ErrorCodes } from '../../src/core/errors.js';
import type { AuditEvent } from '../../src/core/event.js';
import { auditMiddleware, monitoringRouter } from '../../src/integrations/express.js';
import { type AuditLoggerHandle, createAuditLogger } from '../../src/logger.js';
import type { AuditMetricsResponse } from '../../src/metrics/index.js';
import { PgliteStore } from '../../src/store/pglite/store.js';

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** Listens on an ephemeral 127.0.0.1 port; returns the base URL. */
async function listen(app: Express): Promise<string> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Rows expected in the store, by the audit id the app answered with. */
const expected = new Map<string, { label: string; fields: Partial<AuditEvent> }>();

let dataDir: string;
let audit: AuditLoggerHandle;
let direct: string; // the example app with trust proxy off (clients connect directly)
let proxied: string; // the example app behind a proxy on loopback

async function putDocument(
  base: string,
  docId: string,
  headers: Record<string, string>,
): Promise<{ status: number; auditId: string }> {
  const res = await fetch(`${base}/documents/${docId}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ title: `doc ${docId}`, body: 'text' }),
  });
  const body = (await res.json()) as { audit_id: string };
  return { status: res.status, auditId: body.audit_id };
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'auditline-express-'));
  cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
  audit = createAuditLogger({ redisUrl: null, databaseUrl: null, dataDir, batchMaxWaitMs: 20 });
  cleanup.push(() => audit.close());
  direct = await listen(createApp(audit));
  proxied = await listen(createApp(audit, { trustProxy: 'loopback' }));
});

describe('example app over HTTP: req.audit() fills the request fields', () => {
  it('direct clients: ip is the socket address and X-Forwarded-For is ignored', async () => {
    const { status, auditId } = await putDocument(direct, 'a1', {
      'x-forwarded-for': '203.0.113.7',
      'user-agent': 'example-client/1.0',
      'x-user-id': 'alice',
      'x-tenant-id': 'acme',
    });
    assert.equal(status, 201);
    expected.set(auditId, {
      label: 'direct',
      fields: {
        ip_address: '127.0.0.1',
        user_agent: 'example-client/1.0',
        user_id: 'alice',
        tenant_id: 'acme',
        event_type: 'document.create',
        resource_type: 'document',
        resource_id: 'a1',
      },
    });
  });

  it('trust proxy: ip is the client named by X-Forwarded-For, past trusted hops', async () => {
    // With 'loopback' trusted, the socket (127.0.0.1) and the last hop are proxies, so the
    // client is the first untrusted address from the right.
    const { auditId } = await putDocument(proxied, 'p1', {
      'x-forwarded-for': '203.0.113.7, 127.0.0.1',
      'x-user-id': 'bob',
    });
    expected.set(auditId, { label: 'proxied', fields: { ip_address: '203.0.113.7', user_id: 'bob' } });
  });

  it('trust proxy: an IPv6 client is stored in its canonical form', async () => {
    const { auditId } = await putDocument(proxied, 'p2', { 'x-forwarded-for': '2001:DB8:0:0:0:0:0:1' });
    expected.set(auditId, { label: 'ipv6', fields: { ip_address: '2001:db8::1' } });
  });

  it('trust proxy: an IPv4-mapped address is stored as plain IPv4', async () => {
    const { auditId } = await putDocument(proxied, 'p3', { 'x-forwarded-for': '::ffff:198.51.100.9' });
    expected.set(auditId, { label: 'ipv4-mapped', fields: { ip_address: '198.51.100.9' } });
  });

  it('trust proxy: a forged non-IP X-Forwarded-For gives a null ip, and the action is still audited', async () => {
    const { status, auditId } = await putDocument(proxied, 'p4', { 'x-forwarded-for': 'not-an-ip' });
    assert.equal(status, 201);
    expected.set(auditId, { label: 'forged', fields: { ip_address: null } });
  });

  it('a user agent beyond 1,024 characters is cut to the limit; no user header means no actor', async () => {
    const ua = `long-agent/${'x'.repeat(3000)}`;
    const { status, auditId } = await putDocument(direct, 'u1', { 'user-agent': ua });
    assert.equal(status, 201);
    expected.set(auditId, {
      label: 'long ua',
      fields: { user_agent: ua.slice(0, 1024), user_id: null, tenant_id: 'default' },
    });
  });

  it('a delete is audited as a critical event', async () => {
    await putDocument(direct, 'd1', { 'x-user-id': 'carol' });
    const res = await fetch(`${direct}/documents/d1`, {
      method: 'DELETE',
      headers: { 'x-user-id': 'carol' },
    });
    assert.equal(res.status, 200);
    const { audit_id } = (await res.json()) as { audit_id: string };
    expected.set(audit_id, {
      label: 'delete',
      fields: {
        event_type: 'document.delete',
        event_category: 'critical',
        user_id: 'carol',
        resource_id: 'd1',
      },
    });
  });

  it("the event's own fields win over the request's (explicit null included)", async () => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.use(auditMiddleware(audit, { userId: () => 'resolver-user', tenantId: () => 'resolver-tenant' }));
    app.post('/login', async (req, res) => {
      const r = await req.audit({
        event_type: 'login.failure',
        user_id: null,
        tenant_id: 'explicit-tenant',
        ip_address: '192.0.2.1',
        user_agent: null,
      });
      res.json(r);
    });
    const base = await listen(app);
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '203.0.113.99', 'user-agent': 'ignored' },
    });
    const { id } = (await res.json()) as { id: string };
    expected.set(id, {
      label: 'explicit',
      fields: { user_id: null, tenant_id: 'explicit-tenant', ip_address: '192.0.2.1', user_agent: null },
    });
  });
});

describe('failures of req.audit()', () => {
  it('an invalid fire-and-forget event goes to onError instead of an unhandled rejection; an awaited one rejects', async () => {
    const reported: unknown[] = [];
    const app = express();
    app.use(auditMiddleware(audit, { onError: (err) => reported.push(err) }));
    app.post('/fire-and-forget', (req, res) => {
      // An empty event_type is invalid; nothing awaits this promise.
      void req.audit({ event_type: '' });
      res.status(202).end();
    });
    app.post('/awaited', async (req, res) => {
      try {
        await req.audit({ event_type: '' });
        res.status(200).end();
      } catch (err) {
        res.status(500).json({ code: (err as AuditError).code });
      }
    });
    const base = await listen(app);
    assert.equal((await fetch(`${base}/fire-and-forget`, { method: 'POST' })).status, 202);
    const awaited = await fetch(`${base}/awaited`, { method: 'POST' });
    assert.equal(awaited.status, 500);
    assert.deepEqual(await awaited.json(), { code: ErrorCodes.INVALID_EVENT });
    // onError runs in a microtask after the rejection; both failures arrive.
    await new Promise((r) => setImmediate(r));
    assert.equal(reported.length, 2);
    for (const err of reported) assert.equal((err as AuditError).code, ErrorCodes.INVALID_EVENT);
  });

  it('a resolver that throws rejects the promise and reaches onError', async () => {
    const reported: unknown[] = [];
    const boom = new Error('session store down');
    const app = express();
    app.use(
      auditMiddleware(audit, {
        userId: () => {
          throw boom;
        },
        onError: (err) => reported.push(err),
      }),
    );
    app.post('/x', async (req, res) => {
      const outcome = await req.audit({ event_type: 'x.y' }).then(
        () => 'logged',
        (err: unknown) => (err === boom ? 'rejected with the resolver error' : String(err)),
      );
      res.json({ outcome });
    });
    const base = await listen(app);
    const body = await (await fetch(`${base}/x`, { method: 'POST' })).json();
    assert.deepEqual(body, { outcome: 'rejected with the resolver error' });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(reported, [boom]);
  });
});

describe('monitoringRouter', () => {
  it("the example app's endpoint answers JSON, uncached", async () => {
    const res = await fetch(`${direct}/api/monitoring/audit-metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as AuditMetricsResponse;
    // The seed's shape: { health: { status, issues }, metrics: { … }, timestamp }, plus the
    // processes, consumers and alerts auditline adds.
    assert.deepEqual(Object.keys(body).sort(), [
      'alerts',
      'consumers',
      'health',
      'metrics',
      'producers',
      'timestamp',
      'workers',
    ]);
    assert.deepEqual(Object.keys(body.health).sort(), ['issues', 'status']);
    for (const field of [
      'queueLength',
      'insertsLastMinute',
      'failuresLastMinute',
      'avgBatchTime',
      'droppedEvents',
      'overflowEvents',
      'droppedLastMinute',
      'journalBacklog',
      'journalBytes',
      'liveWorkers',
      'insertedTotal',
    ] as const) {
      assert.equal(typeof body.metrics[field], 'number', `metrics.${field}`);
    }
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    // Embedded: the logger's own worker is the one live worker, so the status is not no_data.
    assert.equal(body.health.status, 'healthy', JSON.stringify(body.health));
    assert.deepEqual(body.health.issues, []);
    assert.equal(body.metrics.liveWorkers, 1);
    assert.equal(body.workers.length, 1);
    assert.equal(body.workers[0]?.role, 'worker');
    assert.equal(body.workers[0]?.pid, process.pid);
    assert.ok((body.metrics.events.info?.queued ?? 0) > 0, 'the info events logged above are counted');
    assert.ok((body.metrics.events.critical?.queued ?? 0) > 0, 'so is the critical delete');
    assert.equal(body.metrics.journalBacklog, 0);
    assert.deepEqual(body.alerts, []);
    // The handle's accessor is what the router serves.
    assert.equal((await audit.metrics()).metrics.events.info?.queued, body.metrics.events.info?.queued);
  });

  it('mounted under a prefix as in the seed, it serves the metrics and passes other requests on', async () => {
    const app = express();
    app.use(
      '/api/monitoring',
      monitoringRouter({ metrics: async () => ({ queueLength: 3 }), path: '/audit-metrics' }),
    );
    app.get('/api/monitoring/other', (_req, res) => {
      res.json({ other: true });
    });
    const base = await listen(app);
    assert.deepEqual(await (await fetch(`${base}/api/monitoring/audit-metrics`)).json(), { queueLength: 3 });
    assert.deepEqual(await (await fetch(`${base}/api/monitoring/audit-metrics/`)).json(), { queueLength: 3 });
    assert.deepEqual(await (await fetch(`${base}/api/monitoring/other`)).json(), { other: true });
    const post = await fetch(`${base}/api/monitoring/audit-metrics`, { method: 'POST' });
    assert.equal(post.status, 404, 'only GET and HEAD are served');
  });

  it('a failing provider answers 500 with a catalogue code and reaches onError; messages of unexpected errors stay inside', async () => {
    const reported: unknown[] = [];
    const app = express();
    app.use(
      monitoringRouter({
        metrics: async () => {
          throw new Error('secret internal detail');
        },
        onError: (err) => reported.push(err),
      }),
    );
    const base = await listen(app);
    const res = await fetch(`${base}/api/monitoring/audit-metrics`);
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      error: { code: ErrorCodes.INTERNAL, message: 'metrics are unavailable' },
    });
    assert.equal(reported.length, 1);
  });

  it('an unavailable backend answers with its catalogue status and code', async () => {
    const app = express();
    app.use(
      monitoringRouter({
        metrics: async () => {
          throw new AuditError(ErrorCodes.STORE_UNAVAILABLE, 'PostgreSQL is unreachable');
        },
        onError: () => {},
      }),
    );
    const base = await listen(app);
    const res = await fetch(`${base}/api/monitoring/audit-metrics`);
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.deepEqual(body, {
      error: { code: ErrorCodes.STORE_UNAVAILABLE, message: 'PostgreSQL is unreachable' },
    });
  });
});

describe('rows read back from PGlite after close()', () => {
  let rows: Map<string, AuditEvent>;

  before(async () => {
    // close() flushes everything accepted; only then may a second PGlite open the directory.
    await audit.close();
    const store = new PgliteStore({ dataDir, schema: 'auditline' });
    rows = new Map();
    try {
      for await (const e of store.scan()) rows.set(e.id, e);
    } finally {
      await store.close();
    }
  });

  it('every audited request is stored, with the fields filled from its request', () => {
    assert.equal(expected.size, 8, 'all request scenarios above recorded an audit id');
    for (const [id, { label, fields }] of expected) {
      const row = rows.get(id);
      assert.ok(row, `${label}: event ${id} is stored`);
      for (const [k, v] of Object.entries(fields)) {
        assert.deepEqual(row[k as keyof AuditEvent], v, `${label}: ${k}`);
      }
    }
  });

  it('hashes computed with the filled fields verify after the round trip through PostgreSQL', () => {
    for (const id of expected.keys()) {
      const row = rows.get(id);
      assert.ok(row && verifyEventHash(row), `hash of ${id} verifies`);
    }
  });
});
