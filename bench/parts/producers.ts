/** Starting producer children and merging what they report. */
import type { PartContext } from '../context.js';
import { type BenchChild, forkChild } from '../processes.js';
import type { ProduceConfig, ProducerResult } from '../protocol.js';

/** Forks `count` producers with the same settings (each its own seed) and waits until all are connected. */
export async function startProducers(
  ctx: PartContext,
  count: number,
  config: Omit<ProduceConfig, 'seed' | 'redisUrl' | 'databaseUrl'>,
  cpuProfileDir?: string,
): Promise<BenchChild[]> {
  const children = Array.from({ length: count }, () => forkChild(ctx.cleanup, 'producer', cpuProfileDir));
  for (const [i, c] of children.entries()) {
    c.send({
      type: 'produce',
      config: { ...config, redisUrl: ctx.opts.redisUrl, databaseUrl: ctx.opts.databaseUrl, seed: 100 + i },
    });
  }
  await Promise.all(children.map((c) => c.next('ready', 60_000)));
  return children;
}

export interface MergedProducers {
  outcomes: Record<string, number>;
  failures: string[];
  latenciesUs: number[];
  logged: number;
  maxScheduleLagMs: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

export function mergeProducerResults(results: readonly ProducerResult[]): MergedProducers {
  const outcomes: Record<string, number> = { queued: 0, dropped: 0, spilled: 0, direct: 0, failed: 0 };
  const merged: MergedProducers = {
    outcomes,
    failures: [],
    latenciesUs: [],
    logged: 0,
    maxScheduleLagMs: 0,
    peakRssMiB: 0,
    cpuSeconds: 0,
  };
  for (const r of results) {
    for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
    merged.failures.push(...r.failures);
    for (const l of r.latenciesUs) merged.latenciesUs.push(l);
    merged.logged += r.logged;
    merged.maxScheduleLagMs = Math.max(merged.maxScheduleLagMs, r.maxScheduleLagMs);
    merged.peakRssMiB = Math.max(merged.peakRssMiB, r.peakRssMiB);
    merged.cpuSeconds += r.cpuSeconds;
  }
  return merged;
}

/** Sends `stop` to every producer and collects their results. */
export async function stopProducers(children: readonly BenchChild[]): Promise<MergedProducers> {
  for (const c of children) c.send({ type: 'stop' });
  const results = await Promise.all(children.map((c) => c.next('produced', 120_000)));
  return mergeProducerResults(results.map((r) => r.result));
}
