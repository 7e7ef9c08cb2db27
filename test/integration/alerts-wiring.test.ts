/**
 * Alerting through the running service: `startServer` over a runtime with a webhook sink
 * (a real HTTP receiver on 127.0.0.1) and a tiny queue threshold. A backlog fires once —
 * although two processes run the alert loop, the Redis lease lets one evaluate — and
 * resolves when a worker drains the queue.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import {
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
  type WebhookBody,
} from '../../src/alerts/index.js';
import { loadConfig } from '../../src/config.js';
import { type RunningServer, startServer } from '../../src/http/server.js';
import { createRuntime, type Runtime } from '../../src/runtime.js';
import {
  DATABASE_URL,
  dropPrefix,
  dropSchema,
  REDIS_URL,
  uniquePrefix,
  uniqueSchema,
} from '../helpers/env.js';
import { waitUntil } from '../helpers/processes.js';

const SECRET = 'test-secret';
const received: { headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: Server;
let receiverUrl: string;
const prefix = uniquePrefix('alerts');
const schema = uniqueSchema('alerts');
let dataDir: string;
let server: RunningServer;
let workerRuntime: Runtime | null = null;

const bodies = () => received.map((r) => JSON.parse(r.body) as WebhookBody);
const actions = (rule: string) =>
  bodies()
    .filter((b) => b.rule === rule)
    .map((b) => b.action);

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  dataDir = await mkdtemp(join(tmpdir(), 'auditline-alerts-'));
});

after(async () => {
  await workerRuntime?.close();
  await server?.stop();
  await new Promise((r) => receiver.close(r));
  await dropPrefix(prefix);
  await dropSchema(schema);
  await rm(dataDir, { recursive: true, force: true });
});

it('a queue backlog fires once through the running service and resolves when it clears', async () => {
  const config = loadConfig(
    {
      redisUrl: REDIS_URL,
      databaseUrl: DATABASE_URL,
      keyPrefix: prefix,
      schema,
      dataDir,
      port: 0,
      environment: 'test',
      metricsIntervalMs: 100,
      batchMaxWaitMs: 20,
      health: { maxQueueLength: 3 },
      alerts: { webhookUrl: receiverUrl, webhookSecret: SECRET, intervalMs: 100 },
    },
    {},
  );
  // What `auditline serve` does: a runtime publishing as a server, then the HTTP server.
  const runtime = await createRuntime(config, { metrics: { role: 'server' } });
  server = await startServer(runtime, { handleSignals: false, log: false });
  await runtime.logger.logMany(
    Array.from({ length: 5 }, (_, i) => ({ event_type: 'doc.read', user_id: `u${i}` })),
  );
  await waitUntil(async () => actions('queue_backlog').includes('trigger'), 20_000, 'the backlog alert');

  // What `auditline worker` does; it runs an alert loop too, but the lease keeps it silent.
  workerRuntime = await createRuntime(config, { worker: true, metrics: { role: 'worker' } });
  await waitUntil(async () => actions('queue_backlog').includes('resolve'), 20_000, 'the backlog to resolve');
  await waitUntil(async () => actions('no_live_worker').includes('resolve'), 20_000, 'a live worker');

  assert.deepEqual(actions('queue_backlog'), ['trigger', 'resolve']);
  assert.deepEqual(actions('no_live_worker'), ['trigger', 'resolve']);
  const trigger = bodies().find((b) => b.rule === 'queue_backlog' && b.action === 'trigger')!;
  assert.equal(trigger.key, 'auditline:test:queue_backlog');
  assert.equal(trigger.severity, 'critical');
  assert.equal(trigger.threshold, 3);
  assert.ok(typeof trigger.value === 'number' && trigger.value > 3);
  for (const r of received) {
    const ts = r.headers[TIMESTAMP_HEADER.toLowerCase()];
    const sig = r.headers[SIGNATURE_HEADER.toLowerCase()];
    assert.ok(
      verifyWebhookSignature({
        secret: SECRET,
        body: r.body,
        timestamp: typeof ts === 'string' ? ts : undefined,
        signature: typeof sig === 'string' ? sig : undefined,
      }),
    );
  }
  // The evaluator publishes what is on: nothing now.
  const res = await server.app.inject({ method: 'GET', url: '/api/monitoring/audit-metrics' });
  assert.deepEqual((res.json() as { alerts: unknown[] }).alerts, []);
});
