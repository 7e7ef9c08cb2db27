/**
 * The HTTP load generator: autocannon in a process of its own (it needs most of a core),
 * first single-event POSTs, then batch POSTs, to `POST /v1/events` of `auditline serve`.
 * Bodies cycle through distinct realistic events; the server assigns ids and timestamps.
 */
import autocannon from 'autocannon';
import { makeInputPool } from '../events.js';
import {
  type ChildRequest,
  exitWithParent,
  finish,
  type HttpLoadConfig,
  type HttpModeResult,
} from '../protocol.js';

exitWithParent();

const DISTINCT_BODIES = 64;
const HEADERS = { 'content-type': 'application/json' };

process.on('message', (m: ChildRequest) => {
  if (m.type === 'http')
    run(m.config).catch((err) => finish({ type: 'error', message: String(err?.stack ?? err) }));
});

async function load(url: string, connections: number, durationS: number, bodies: string[], events: number) {
  const result = await autocannon({
    url: `${url}/v1/events`,
    connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    requests: bodies.map((body) => ({ method: 'POST', headers: HEADERS, body })),
  });
  const ok = result['2xx'];
  const mode: HttpModeResult = {
    requestsPerS: ok / result.duration,
    eventsPerS: (ok * events) / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    connections,
  };
  return mode;
}

async function run(cfg: HttpLoadConfig): Promise<void> {
  const pool = makeInputPool(DISTINCT_BODIES * cfg.batchEvents, 11);
  const singles = pool.slice(0, DISTINCT_BODIES).map((e) => JSON.stringify(e));
  const batches = Array.from({ length: DISTINCT_BODIES }, (_, i) =>
    JSON.stringify(pool.slice(i * cfg.batchEvents, (i + 1) * cfg.batchEvents)),
  );
  const single = await load(cfg.url, cfg.connectionsSingle, cfg.durationS, singles, 1);
  const batch = await load(cfg.url, cfg.connectionsBatch, cfg.durationS, batches, cfg.batchEvents);
  await finish({ type: 'http-result', single, batch });
}
