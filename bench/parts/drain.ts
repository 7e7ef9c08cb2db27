/**
 * Drain: the worker side alone. Producers fill the stream with a backlog first, with no
 * worker running; then N workers start and drain it. The rate between 10 % and 90 % of
 * the backlog committed is what workers + Redis + PostgreSQL sustain when producers do
 * not share the machine (as in a deployment, where producers are the application's
 * servers). Set beside the end-to-end number, it shows how much of the machine the
 * producers take.
 */
import {
  countRows,
  maxOrNull,
  migrateSchema,
  names,
  type PartContext,
  sleep,
  startWorkers,
  stopAll,
} from '../context.js';
import { StreamSampler, streamSample, waitForDrain } from '../sampler.js';
import { round } from '../stats.js';
import { CpuMeter, pidsByName } from '../system.js';
import { startProducers, stopProducers } from './producers.js';

export interface DrainResult {
  workers: number;
  backlog: number;
  eventsPerS: number;
  stored: number;
  workerPeakRssMiB: number | null;
  /** Cores used while draining, per process group. */
  cpuCores: Record<string, number>;
}

export async function runDrain(ctx: PartContext, workerCount: number): Promise<DrainResult> {
  const { scale } = ctx;
  const { schema, prefix, streamKey, journalDir } = names(ctx, `drain${workerCount}`);
  try {
    await migrateSchema(ctx, schema);
    const producers = await startProducers(ctx, scale.producers, {
      schema,
      keyPrefix: prefix,
      journalDir,
      queueMaxLength: 10_000_000,
      mode: 'closed',
      rate: 0,
      loops: scale.producerLoops,
      window: scale.producerWindow,
      durationMs: 0,
    });
    ctx.log(`drain: filling a backlog of ${scale.drainBacklog} events`);
    while ((await streamSample(ctx.redis, streamKey, 0)).length < scale.drainBacklog) await sleep(50);
    const produced = await stopProducers(producers);
    const backlog = (await streamSample(ctx.redis, streamKey, 0)).length;
    const sampler = new StreamSampler(ctx.redis, streamKey, 50);
    sampler.start();
    const base = (await sampler.now()).committed;
    ctx.log(`drain: ${workerCount} workers draining ${backlog} events`);
    const workers = await startWorkers(ctx, workerCount, schema, prefix);
    const cpu = new CpuMeter(() => ({
      workers: workers.map((w) => w.child.pid ?? -1),
      redis: pidsByName('redis-server'),
      postgres: pidsByName('postgres'),
    }));
    cpu.begin();
    await waitForDrain(ctx.redis, streamKey, scale.drainTimeoutMs);
    const cpuCores = cpu.end();
    await sampler.now();
    sampler.stop();
    const at = (share: number) => sampler.samples.find((s) => s.committed - base >= share * backlog);
    const s10 = at(0.1);
    const s90 = at(0.9);
    if (!s10 || !s90 || s90.t <= s10.t) throw new Error('drain: too few samples to time the drain');
    const workerRss = workers.map((w) => w.peakRssMiB());
    await stopAll(workers);
    const stored = await countRows(ctx, schema);
    const accepted = (produced.outcomes.queued ?? 0) + (produced.outcomes.spilled ?? 0);
    if (stored !== accepted) ctx.log(`drain: ${accepted} events accepted, ${stored} stored`);
    return {
      workers: workerCount,
      backlog,
      eventsPerS: (s90.committed - s10.committed) / ((s90.t - s10.t) / 1000),
      stored,
      workerPeakRssMiB: maxOrNull(workerRss),
      cpuCores: Object.fromEntries(Object.entries(cpuCores).map(([k, v]) => [k, round(v, 2)])),
    };
  } finally {
    await ctx.cleanup.runAll();
  }
}
