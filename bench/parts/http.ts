/**
 * HTTP ingest: `auditline serve` (distributed mode, a child process on a free port) driven
 * by autocannon from another process, single-event POSTs then 100-event batch POSTs to
 * `/v1/events`, each for half the duration, with 2 workers draining the queue meanwhile.
 * The server's queue cap is raised so the numbers are ingest throughput, not overflow.
 */
import {
  cliEnv,
  maxOrNull,
  migrateSchema,
  names,
  type PartContext,
  startWorkers,
  stopAll,
} from '../context.js';
import { forkChild, freePort, startCli } from '../processes.js';
import type { HttpModeResult } from '../protocol.js';
import { StreamSampler } from '../sampler.js';
import { MiB, round } from '../stats.js';

export interface HttpResult {
  single: HttpModeResult;
  batch: HttpModeResult;
  batchEvents: number;
  workers: number;
  serverPeakRssMiB: number | null;
  workerPeakRssMiB: number | null;
  peakBacklog: number;
  redisPeakUsedMemoryMiB: number;
}

const WORKERS = 2;

export async function runHttp(ctx: PartContext): Promise<HttpResult> {
  const { scale, opts } = ctx;
  const { schema, prefix, streamKey, journalDir } = names(ctx, 'http');
  try {
    await migrateSchema(ctx, schema);
    const workers = await startWorkers(ctx, WORKERS, schema, prefix);
    const port = await freePort();
    const server = await startCli(
      ctx.cleanup,
      ['serve'],
      {
        ...cliEnv(ctx, schema, prefix, journalDir),
        PORT: String(port),
        AUDITLINE_HOST: '127.0.0.1',
        AUDITLINE_QUEUE_MAX_LENGTH: '10000000',
      },
      /listening on (http:\/\/\S+)/,
    );
    const url = server.match[1]!;
    const sampler = new StreamSampler(ctx.redis, streamKey, 250);
    const durationS = Math.max(1, Math.round(opts.durationS / 2));
    ctx.log(
      `http: ${url}, ${durationS} s single-event, ${durationS} s ${scale.httpBatchEvents}-event batches`,
    );
    sampler.start();
    const load = forkChild(ctx.cleanup, 'http-load');
    load.send({
      type: 'http',
      config: {
        url,
        durationS,
        connectionsSingle: scale.httpConnectionsSingle,
        connectionsBatch: scale.httpConnectionsBatch,
        batchEvents: scale.httpBatchEvents,
      },
    });
    const res = await load.next('http-result', durationS * 2000 + 60_000);
    sampler.stop();
    const serverRss = server.peakRssMiB();
    const workerRss = workers.map((w) => w.peakRssMiB());
    await stopAll([server, ...workers]);
    return {
      single: res.single,
      batch: res.batch,
      batchEvents: scale.httpBatchEvents,
      workers: WORKERS,
      serverPeakRssMiB: serverRss,
      workerPeakRssMiB: maxOrNull(workerRss),
      peakBacklog: sampler.peakLength(),
      redisPeakUsedMemoryMiB: round(sampler.peakUsedMemory() / MiB, 1),
    };
  } finally {
    await ctx.cleanup.runAll();
  }
}
