/**
 * The seed plan's headline: 10,000 events/s offered for the duration, 4 workers, the
 * library's default queue cap (10,000) and overflow policy. Offered open-loop (paced on
 * the clock, not on completions) by 2 producer processes at half the rate each.
 * Reports `log()` outcomes and latency (call to resolution, in the producer), and
 * created→committed latency from the table: `ingested_at − created_at`, where
 * `ingested_at` is the insert transaction's start (now()), so it slightly understates
 * the commit time (by one flush, typically tens of ms).
 */
import {
  countRows,
  maxOrNull,
  migrateSchema,
  names,
  type PartContext,
  startWorkers,
  stopAll,
} from '../context.js';
import { RedisPingProbe, StreamSampler, waitForDrain } from '../sampler.js';
import { MiB, percentile, round } from '../stats.js';
import { mergeProducerResults, startProducers } from './producers.js';

export interface SeedResult {
  offeredPerS: number;
  workers: number;
  queueCap: number;
  logged: number;
  stored: number;
  queued: number;
  dropped: number;
  spilled: number;
  direct: number;
  failed: number;
  /**
   * Accepted (queued + spilled + direct) − stored, after the producers' close() and the
   * queue drained: events still in a spill journal (or lost). Should be 0.
   */
  notStored: number;
  logP50Ms: number;
  logP99Ms: number;
  logP999Ms: number;
  /** PING round trip on a separate connection every ms during the scenario (the floor under log()). */
  redisPingP50Ms: number;
  redisPingP99Ms: number;
  maxScheduleLagMs: number;
  createdToCommittedP50Ms: number;
  createdToCommittedP99Ms: number;
  peakBacklog: number;
  workerPeakRssMiB: number | null;
  producerPeakRssMiB: number;
  redisPeakUsedMemoryMiB: number;
}

const PRODUCERS = 2;

export async function runSeed(ctx: PartContext): Promise<SeedResult> {
  const { scale, opts } = ctx;
  const { schema, prefix, streamKey, journalDir } = names(ctx, 'seed');
  try {
    await migrateSchema(ctx, schema);
    const workers = await startWorkers(ctx, scale.seedWorkers, schema, prefix);
    const producers = await startProducers(ctx, PRODUCERS, {
      schema,
      keyPrefix: prefix,
      journalDir,
      queueMaxLength: scale.seedCap,
      mode: 'paced',
      rate: scale.seedRate / PRODUCERS,
      loops: 0,
      window: 0,
      durationMs: opts.durationS * 1000,
    });
    const sampler = new StreamSampler(ctx.redis, streamKey, 250);
    ctx.log(`seed: ${scale.seedRate} events/s offered for ${opts.durationS} s, ${scale.seedWorkers} workers`);
    sampler.start();
    const probe = new RedisPingProbe(ctx.redis);
    probe.start();
    // Paced producers stop by themselves after the duration; `stop` only collects.
    const results = await Promise.all(
      producers.map((p) => p.next('produced', opts.durationS * 1000 + 120_000)),
    );
    const produced = mergeProducerResults(results.map((r) => r.result));
    const pings = await probe.stop();
    await waitForDrain(ctx.redis, streamKey, scale.drainTimeoutMs);
    sampler.stop();
    const workerRss = workers.map((w) => w.peakRssMiB());
    await stopAll(workers);
    const stored = await countRows(ctx, schema);
    const lag = await ctx.db.query<{ p50: number; p99: number }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
         FROM (SELECT extract(epoch FROM ingested_at - created_at) * 1000 AS ms FROM "${schema}".audit_logs) t`,
    );
    const o = produced.outcomes;
    const lat = produced.latenciesUs;
    if (produced.failures.length > 0) ctx.log(`seed: log() failures: ${produced.failures.join('; ')}`);
    return {
      offeredPerS: scale.seedRate,
      workers: scale.seedWorkers,
      queueCap: scale.seedCap,
      logged: produced.logged,
      stored,
      queued: o.queued ?? 0,
      dropped: o.dropped ?? 0,
      spilled: o.spilled ?? 0,
      direct: o.direct ?? 0,
      failed: o.failed ?? 0,
      notStored: (o.queued ?? 0) + (o.spilled ?? 0) + (o.direct ?? 0) - stored,
      logP50Ms: round(percentile(lat, 50) / 1000, 3),
      logP99Ms: round(percentile(lat, 99) / 1000, 3),
      logP999Ms: round(percentile(lat, 99.9) / 1000, 3),
      redisPingP50Ms: round(percentile(pings, 50) / 1000, 3),
      redisPingP99Ms: round(percentile(pings, 99) / 1000, 3),
      maxScheduleLagMs: produced.maxScheduleLagMs,
      createdToCommittedP50Ms: round(Number(lag.rows[0]?.p50 ?? Number.NaN), 1),
      createdToCommittedP99Ms: round(Number(lag.rows[0]?.p99 ?? Number.NaN), 1),
      peakBacklog: sampler.peakLength(),
      workerPeakRssMiB: maxOrNull(workerRss),
      producerPeakRssMiB: produced.peakRssMiB,
      redisPeakUsedMemoryMiB: round(sampler.peakUsedMemory() / MiB, 1),
    };
  } finally {
    await ctx.cleanup.runAll();
  }
}
