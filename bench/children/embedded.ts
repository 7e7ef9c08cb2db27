/**
 * Embedded mode: one process, in-process queue and PGlite under a temporary directory,
 * exactly as `createAuditLogger()` runs with no REDIS_URL/DATABASE_URL. Logs N events
 * (at most `window` unresolved at a time) and times until `close()` has committed them all.
 */
import { makeInputPool } from '../events.js';
import {
  type ChildRequest,
  type EmbeddedConfig,
  exitWithParent,
  finish,
  ownPeakRssMiB,
} from '../protocol.js';
import { loadLibrary, loadStores } from './library.js';

exitWithParent();

process.on('message', (m: ChildRequest) => {
  if (m.type === 'embedded')
    run(m.config).catch((err) => finish({ type: 'error', message: String(err?.stack ?? err) }));
});

async function run(cfg: EmbeddedConfig): Promise<void> {
  const { createAuditLogger } = await loadLibrary();
  const { PgliteStore } = await loadStores();
  // The queue cap is set above N: this part measures throughput, not overflow.
  const audit = createAuditLogger({
    redisUrl: null,
    databaseUrl: null,
    dataDir: cfg.dataDir,
    queueMaxLength: cfg.events + cfg.window + 1,
  });
  const pool = makeInputPool(4096, 21);
  const outcomes: Record<string, number> = {};
  const count = (o: string) => {
    outcomes[o] = (outcomes[o] ?? 0) + 1;
  };
  // PGlite start-up and migrations happen before the clock starts (one event, counted below).
  count((await audit.log(pool[0]!)).outcome);
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 1; i < cfg.events; i++) {
    inflight.push(audit.log(pool[i % pool.length]!).then((r) => count(r.outcome)));
    if (inflight.length >= cfg.window) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  await audit.close();
  const elapsedS = (performance.now() - t0) / 1000;
  const store = new PgliteStore({ dataDir: cfg.dataDir });
  let stored: number;
  try {
    stored = await store.count();
  } finally {
    await store.close();
  }
  await finish({
    type: 'embedded-result',
    result: { events: cfg.events, stored, elapsedS, outcomes, peakRssMiB: ownPeakRssMiB() },
  });
}
