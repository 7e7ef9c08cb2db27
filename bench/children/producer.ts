/**
 * A producer process: an application logging through the library (`createAuditLogger`,
 * distributed mode). Started by the benchmark, which sends `produce`, then `pause`,
 * `resume`, `stop`; it answers `ready` once its logger is connected and `produced` with
 * its counts at the end. A process of its own, so that its CPU is not the workers'.
 */
import { makeInputPool } from '../events.js';
import {
  type ChildRequest,
  exitWithParent,
  finish,
  ownPeakRssMiB,
  type ProduceConfig,
  reply,
} from '../protocol.js';
import { loadLibrary } from './library.js';

exitWithParent();

const POOL_SIZE = 4096;
let stopping = false;
let paused = false;
let resumeWaiters: (() => void)[] = [];
let stopNow: () => void = () => {};
const stopped = new Promise<void>((r) => {
  stopNow = r;
});

process.on('message', (m: ChildRequest) => {
  if (m.type === 'produce')
    run(m.config).catch((err) => finish({ type: 'error', message: String(err?.stack ?? err) }));
  else if (m.type === 'pause') paused = true;
  else if (m.type === 'resume') {
    paused = false;
    for (const w of resumeWaiters) w();
    resumeWaiters = [];
  } else if (m.type === 'stop') {
    stopping = true;
    paused = false;
    for (const w of resumeWaiters) w();
    resumeWaiters = [];
    stopNow();
  }
});

async function run(cfg: ProduceConfig): Promise<void> {
  const { createAuditLogger } = await loadLibrary();
  const audit = createAuditLogger({
    redisUrl: cfg.redisUrl,
    databaseUrl: cfg.databaseUrl,
    schema: cfg.schema,
    keyPrefix: cfg.keyPrefix,
    journalDir: cfg.journalDir,
    queueMaxLength: cfg.queueMaxLength,
  });
  const pool = makeInputPool(POOL_SIZE, cfg.seed);
  const outcomes: Record<string, number> = {};
  const failures: string[] = [];
  const latenciesUs: number[] = [];
  let logged = 0;
  const count = (outcome: string) => {
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  };
  const fail = (err: unknown) => {
    count('failed');
    if (failures.length < 5) failures.push(err instanceof Error ? err.message : String(err));
  };
  // Connect (and create the stream's group) before the clock starts.
  await audit.stats();
  reply({ type: 'ready' });

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let maxScheduleLagMs = 0;
  if (cfg.mode === 'closed') {
    const loop = async (offset: number) => {
      let i = offset;
      while (!stopping) {
        if (paused) await new Promise<void>((r) => resumeWaiters.push(r));
        if (stopping) break;
        const batch: Promise<void>[] = [];
        for (let k = 0; k < cfg.window; k++) {
          batch.push(audit.log(pool[i++ % POOL_SIZE]!).then((r) => count(r.outcome), fail));
        }
        logged += cfg.window;
        await Promise.all(batch);
      }
    };
    await Promise.all(Array.from({ length: cfg.loops }, (_, k) => loop(k * 997)));
  } else {
    // Open loop: events are issued on schedule whether or not earlier ones have resolved,
    // so a slow log() cannot slow the offered load (no coordinated omission).
    const inflight = new Set<Promise<void>>();
    const end = t0 + cfg.durationMs;
    let i = 0;
    while (!stopping) {
      const now = performance.now();
      if (now >= end) break;
      const due = Math.floor(((now - t0) / 1000) * cfg.rate);
      if (due > i + 1) maxScheduleLagMs = Math.max(maxScheduleLagMs, ((due - i - 1) / cfg.rate) * 1000);
      for (; i < due; i++) {
        const started = performance.now();
        const p: Promise<void> = audit.log(pool[i % POOL_SIZE]!).then((r) => {
          latenciesUs.push(Math.round((performance.now() - started) * 1000));
          count(r.outcome);
        }, fail);
        inflight.add(p);
        p.finally(() => inflight.delete(p));
      }
      await Promise.race([new Promise((r) => setTimeout(r, 1)), stopped]);
    }
    logged = i;
    await Promise.all(inflight);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  await audit.close();
  const cpu = process.cpuUsage(cpu0);
  await finish({
    type: 'produced',
    result: {
      outcomes,
      failures,
      latenciesUs,
      maxScheduleLagMs: Math.round(maxScheduleLagMs * 10) / 10,
      logged,
      elapsedS,
      peakRssMiB: ownPeakRssMiB(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    },
  });
}
