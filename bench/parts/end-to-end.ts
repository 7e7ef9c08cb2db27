/**
 * End to end at the maximum sustained rate: producer processes (the library) → Redis →
 * N `auditline worker` processes → PostgreSQL.
 *
 * Setup: 2 producer processes, each running closed loops of `log()`; the queue cap is far
 * above the backlog. Flow control keeps the stream between `lowWater` and `highWater`
 * entries (producers pause above, resume below): the workers never run dry, which makes
 * the commit rate the pipeline's sustained maximum, and producers do not burn CPU on a
 * backlog that only grows (on 2 shared cores they would slow the workers down).
 * The rate is committed events over the steady window (after a warm-up), read from the
 * stream's acknowledgements; the final row count is checked against what was queued.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { type ProfileSummary, summariseProfiles } from '../profile.js';
import { StreamSampler, waitForDrain } from '../sampler.js';
import { MiB, round } from '../stats.js';
import { CpuMeter, pidsByName, round2 } from '../system.js';
import { startProducers, stopProducers } from './producers.js';

export interface EndToEndResult {
  workers: number;
  producers: number;
  eventsPerS: number;
  windowS: number;
  committedInWindow: number;
  queued: number;
  stored: number;
  spilled: number;
  /** Accepted (queued + spilled + direct) − stored, after draining and close(): should be 0. */
  notStored: number;
  failed: number;
  /** Share of steady-window samples where the stream was nearly empty (the producers, not the workers, were the limit). */
  starvedShare: number;
  peakBacklog: number;
  /** The flow-control high-water mark: a peak backlog well below it means producers never got ahead of the workers. */
  highWater: number;
  drainS: number;
  workerPeakRssMiB: number | null;
  producerPeakRssMiB: number;
  redisPeakUsedMemoryMiB: number;
  /** Cores used during the steady window, per process group (machine = everything, other users included). */
  cpuCores: Record<string, number>;
  /** With --profile: where the workers' and the producers' CPU time goes. */
  profile?: { workers: ProfileSummary; producers: ProfileSummary };
}

export async function runEndToEnd(ctx: PartContext, workerCount: number): Promise<EndToEndResult> {
  const { scale, opts } = ctx;
  const { schema, prefix, streamKey, journalDir } = names(ctx, `e2e${workerCount}`);
  const durationMs = opts.durationS * 1000;
  const warmupMs = Math.min(5000, Math.max(500, durationMs * 0.2));
  const profileDir = opts.profile
    ? join(tmpdir(), 'auditline-bench-profiles', `${opts.runId}-${ctx.run}`)
    : undefined;
  try {
    await migrateSchema(ctx, schema);
    const workers = await startWorkers(
      ctx,
      workerCount,
      schema,
      prefix,
      profileDir && join(profileDir, 'workers'),
    );
    const producers = await startProducers(
      ctx,
      scale.producers,
      {
        schema,
        keyPrefix: prefix,
        journalDir,
        queueMaxLength: 10_000_000,
        mode: 'closed',
        rate: 0,
        loops: scale.producerLoops,
        window: scale.producerWindow,
        durationMs: 0,
      },
      profileDir && join(profileDir, 'producers'),
    );
    let paused = false;
    const sampler = new StreamSampler(ctx.redis, streamKey, 100, (s) => {
      if (!paused && s.length > scale.highWater) {
        paused = true;
        for (const p of producers) p.send({ type: 'pause' });
      } else if (paused && s.length < scale.lowWater) {
        paused = false;
        for (const p of producers) p.send({ type: 'resume' });
      }
    });
    const cpu = new CpuMeter(() => ({
      workers: workers.map((w) => w.child.pid ?? -1),
      producers: producers.map((p) => p.child.pid ?? -1),
      redis: pidsByName('redis-server'),
      postgres: pidsByName('postgres'),
      bench: [process.pid],
    }));
    ctx.log(`e2e: ${workerCount} workers, ${scale.producers} producers, ${opts.durationS} s`);
    sampler.start();
    await sleep(warmupMs);
    const start = await sampler.now();
    cpu.begin();
    await sleep(durationMs - warmupMs);
    const end = await sampler.now();
    const cpuCores = cpu.end();
    const windowSamples = sampler.samples.filter((s) => s.t >= start.t && s.t <= end.t);
    const starved = windowSamples.filter((s) => s.length < Math.min(1000, scale.lowWater / 4)).length;
    const produced = await stopProducers(producers);
    const drainMs = await waitForDrain(ctx.redis, streamKey, scale.drainTimeoutMs);
    sampler.stop();
    const workerRss = workers.map((w) => w.peakRssMiB());
    await stopAll(workers);
    const stored = await countRows(ctx, schema);
    const windowS = (end.t - start.t) / 1000;
    const committedInWindow = end.committed - start.committed;
    const queued = produced.outcomes.queued ?? 0;
    const result: EndToEndResult = {
      workers: workerCount,
      producers: scale.producers,
      eventsPerS: committedInWindow / windowS,
      windowS: round(windowS, 2),
      committedInWindow,
      queued,
      stored,
      spilled: produced.outcomes.spilled ?? 0,
      notStored: queued + (produced.outcomes.spilled ?? 0) + (produced.outcomes.direct ?? 0) - stored,
      failed: produced.outcomes.failed ?? 0,
      starvedShare: round2(windowSamples.length ? starved / windowSamples.length : 0),
      peakBacklog: sampler.peakLength(),
      highWater: scale.highWater,
      drainS: round(drainMs / 1000, 2),
      workerPeakRssMiB: maxOrNull(workerRss),
      producerPeakRssMiB: produced.peakRssMiB,
      redisPeakUsedMemoryMiB: round(sampler.peakUsedMemory() / MiB, 1),
      cpuCores,
    };
    if (produced.failures.length > 0) ctx.log(`e2e: log() failures: ${produced.failures.join('; ')}`);
    if (profileDir) {
      result.profile = {
        workers: await summariseProfiles(join(profileDir, 'workers')),
        producers: await summariseProfiles(join(profileDir, 'producers')),
      };
    }
    return result;
  } finally {
    await ctx.cleanup.runAll();
  }
}
