/**
 * Alert sinks against a real HTTP receiver on 127.0.0.1: exact Slack, PagerDuty v2 and
 * signed-webhook payloads over a full trigger → renotify → resolve lifecycle, retries, and
 * receivers that are down or hang.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  AlertManager,
  deliver,
  pagerDutySink,
  slackSink,
  verifyWebhookSignature,
  webhookSink,
} from '../../src/alerts/index.js';
import type { HealthIssue } from '../../src/core/health.js';

interface Captured {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  url: string;
  requests: Captured[];
  /** Status codes to answer with, in order; 200 once exhausted. `hang` never answers. */
  script: Array<number | 'hang'>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const requests: Captured[] = [];
  const script: Array<number | 'hang'> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const next = script.shift() ?? 200;
      if (next === 'hang') return;
      res.writeHead(next, { 'content-type': 'application/json' }).end('{"status":"success"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const T0 = Date.parse('2026-06-15T12:00:00.000Z');
const FAST = { retries: 3, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 2000 };
const SECRET = 'whsec_test';

const queueIssue = (value: number): HealthIssue => ({
  rule: 'queue_backlog',
  severity: 'critical',
  message: `Queue backed up: ${value} events`,
  value,
  threshold: 5000,
});

describe('alert sinks against a real HTTP receiver', () => {
  let rx: Receiver;
  before(async () => {
    rx = await startReceiver();
  });
  after(async () => {
    await rx.close();
  });

  it('trigger → renotify → resolve: exact Slack, PagerDuty v2 and signed webhook payloads', async () => {
    rx.requests.length = 0;
    let now = T0;
    const m = new AlertManager({
      now: () => now,
      environment: 'prod',
      source: 'worker-1',
      renotifyIntervalMs: 600_000,
      delivery: FAST,
      sinks: [
        slackSink({ webhookUrl: `${rx.url}/slack` }),
        pagerDutySink({ routingKey: 'R0UTING', url: `${rx.url}/v2/enqueue` }),
        webhookSink({ url: `${rx.url}/hook`, secret: SECRET }),
      ],
    });

    await m.process([queueIssue(6000)]);
    now += 60_000;
    assert.deepEqual(await m.process([queueIssue(6500)]), [], 'no repeat within the interval');
    now = T0 + 600_000;
    await m.process([queueIssue(7000)]);
    now = T0 + 660_000;
    await m.process([]);

    const by = (path: string) => rx.requests.filter((r) => r.path === path);
    for (const r of rx.requests) {
      assert.equal(r.method, 'POST');
      assert.equal(r.headers['content-type'], 'application/json');
    }
    assert.equal(rx.requests.length, 9, 'three notifications × three sinks');

    // --- Slack ---
    const slack = by('/slack').map((r) => JSON.parse(r.body));
    assert.deepEqual(slack[0], {
      text: ':rotating_light: [FIRING] auditline prod: Queue backed up: 6000 events',
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: ':rotating_light: *FIRING* auditline `prod` `queue_backlog`\nQueue backed up: 6000 events',
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: 'severity *critical* | value 6000 | threshold 5000 | since 2026-06-15T12:00:00.000Z | source worker-1',
            },
          ],
        },
      ],
    });
    assert.equal(
      slack[1].text,
      ':rotating_light: [STILL FIRING] auditline prod: Queue backed up: 7000 events',
    );
    assert.equal(slack[2].text, ':white_check_mark: [RESOLVED] auditline prod: Queue backed up: 7000 events');
    assert.equal(
      slack[2].blocks[1].elements[0].text,
      'severity *critical* | value 7000 | threshold 5000 | since 2026-06-15T12:00:00.000Z | source worker-1',
    );

    // --- PagerDuty Events API v2 ---
    const pd = by('/v2/enqueue').map((r) => JSON.parse(r.body));
    const trigger = (value: number, at: string, action: string) => ({
      routing_key: 'R0UTING',
      event_action: 'trigger',
      dedup_key: 'auditline:prod:queue_backlog',
      payload: {
        summary: `[auditline prod] Queue backed up: ${value} events`,
        source: 'worker-1',
        severity: 'critical',
        timestamp: at,
        component: 'auditline',
        custom_details: {
          rule: 'queue_backlog',
          severity: 'critical',
          value,
          threshold: 5000,
          started_at: '2026-06-15T12:00:00.000Z',
          action,
        },
      },
    });
    assert.deepEqual(pd, [
      trigger(6000, '2026-06-15T12:00:00.000Z', 'trigger'),
      trigger(7000, '2026-06-15T12:10:00.000Z', 'renotify'),
      { routing_key: 'R0UTING', event_action: 'resolve', dedup_key: 'auditline:prod:queue_backlog' },
    ]);

    // --- signed webhook ---
    const hooks = by('/hook');
    const bodies = hooks.map((r) => JSON.parse(r.body));
    assert.deepEqual(bodies[0], {
      version: 1,
      id: `auditline:prod:queue_backlog:trigger:${T0}`,
      key: 'auditline:prod:queue_backlog',
      action: 'trigger',
      environment: 'prod',
      source: 'worker-1',
      rule: 'queue_backlog',
      severity: 'critical',
      message: 'Queue backed up: 6000 events',
      value: 6000,
      threshold: 5000,
      started_at: '2026-06-15T12:00:00.000Z',
      at: '2026-06-15T12:00:00.000Z',
    });
    assert.deepEqual(
      bodies.map((b) => [b.action, b.value, b.at]),
      [
        ['trigger', 6000, '2026-06-15T12:00:00.000Z'],
        ['renotify', 7000, '2026-06-15T12:10:00.000Z'],
        ['resolve', 7000, '2026-06-15T12:11:00.000Z'],
      ],
    );
    hooks.forEach((r, i) => {
      const timestamp = r.headers['x-auditline-timestamp'] as string;
      const signature = r.headers['x-auditline-signature'] as string;
      assert.equal(timestamp, String(Math.floor(Date.parse(bodies[i].at) / 1000)));
      assert.match(signature, /^sha256=[0-9a-f]{64}$/);
      const nowMs = Date.parse(bodies[i].at);
      assert.equal(
        verifyWebhookSignature({ secret: SECRET, body: r.body, timestamp, signature, nowMs }),
        true,
      );
      assert.equal(
        verifyWebhookSignature({ secret: 'wrong', body: r.body, timestamp, signature, nowMs }),
        false,
      );
    });

    assert.deepEqual(m.stats(), {
      slack: { delivered: 3, failed: 0, retries: 0, lastError: null },
      pagerduty: { delivered: 3, failed: 0, retries: 0, lastError: null },
      webhook: { delivered: 3, failed: 0, retries: 0, lastError: null },
    });
  });

  it('PagerDuty severities: degraded → error, warning → warning; dedup_key is per rule and env', async () => {
    rx.requests.length = 0;
    const m = new AlertManager({
      now: () => T0,
      environment: 'staging',
      source: 's',
      delivery: FAST,
      sinks: [pagerDutySink({ routingKey: 'k', url: `${rx.url}/pd` })],
    });
    await m.process([
      { rule: 'slow_batches', severity: 'degraded', message: 'slow', value: 2500, threshold: 2000 },
      { rule: 'dead_letters', severity: 'warning', message: 'dlq', value: 3, threshold: 0 },
    ]);
    const pd = rx.requests.map((r) => JSON.parse(r.body));
    assert.deepEqual(
      pd.map((p) => [p.dedup_key, p.payload.severity]),
      [
        ['auditline:staging:slow_batches', 'error'],
        ['auditline:staging:dead_letters', 'warning'],
      ],
    );
  });

  it('a failing receiver (500, then 200) is retried and the notification delivered', async () => {
    rx.requests.length = 0;
    rx.script.push(500, 503);
    const m = new AlertManager({
      now: () => T0,
      delivery: FAST,
      sinks: [slackSink({ webhookUrl: `${rx.url}/slack` })],
    });
    const [rec] = await m.process([queueIssue(6000)]);
    assert.deepEqual([rec?.result.ok, rec?.result.attempts, rec?.result.status], [true, 3, 200]);
    assert.equal(rx.requests.length, 3);
    assert.equal(new Set(rx.requests.map((r) => r.body)).size, 1, 'the identical body is resent');
    assert.deepEqual(m.stats().slack, { delivered: 1, failed: 0, retries: 2, lastError: null });
  });

  it('gives up after the bounded number of retries, and does not retry a permanent 4xx', async () => {
    rx.requests.length = 0;
    rx.script.push(500, 500, 500);
    const r1 = await deliver({ url: `${rx.url}/x`, headers: {}, body: '{}' }, { ...FAST, retries: 2 });
    assert.deepEqual(r1, { ok: false, attempts: 3, status: 500, error: 'HTTP 500' });
    rx.requests.length = 0;
    rx.script.push(400);
    const r2 = await deliver({ url: `${rx.url}/x`, headers: {}, body: '{}' }, FAST);
    assert.deepEqual(r2, { ok: false, attempts: 1, status: 400, error: 'HTTP 400' });
    rx.requests.length = 0;
    rx.script.push(429);
    const r3 = await deliver({ url: `${rx.url}/x`, headers: {}, body: '{}' }, FAST);
    assert.deepEqual([r3.ok, r3.attempts], [true, 2], '429 is transient');
  });

  it('a receiver that never answers times out and is retried', async () => {
    rx.requests.length = 0;
    rx.script.push('hang');
    const r = await deliver({ url: `${rx.url}/x`, headers: {}, body: '{}' }, { ...FAST, timeoutMs: 200 });
    assert.deepEqual([r.ok, r.attempts], [true, 2]);
  });
});

describe('a dead receiver', () => {
  it('never throws into the caller; failures are counted and reported', async () => {
    const gone = await startReceiver();
    const url = gone.url;
    await gone.close(); // the port now refuses connections
    const errors: unknown[] = [];
    const m = new AlertManager({
      now: () => T0,
      delivery: { ...FAST, retries: 2 },
      onError: (e) => errors.push(e),
      sinks: [
        slackSink({ webhookUrl: `${url}/slack` }),
        pagerDutySink({ routingKey: 'k', url: `${url}/pd` }),
        webhookSink({ url: `${url}/hook`, secret: SECRET }),
      ],
    });
    const records = await m.process([queueIssue(6000)]);
    assert.equal(records.length, 3);
    for (const r of records) {
      assert.equal(r.result.ok, false);
      assert.equal(r.result.attempts, 3);
      assert.match(r.result.error ?? '', /fetch failed|ECONNREFUSED/);
    }
    for (const s of Object.values(m.stats())) assert.deepEqual([s.delivered, s.failed, s.retries], [0, 1, 2]);
    assert.equal(errors.length, 3);
    // The alert is still on: the state machine does not depend on delivery.
    assert.deepEqual(
      m.active().map((a) => a.rule),
      ['queue_backlog'],
    );
  });
});
