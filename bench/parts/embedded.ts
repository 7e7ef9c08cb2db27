/**
 * Embedded mode: `createAuditLogger({ redisUrl: null, databaseUrl: null, dataDir })` in a
 * child process (in-process queue, in-process worker, PGlite in a temporary directory).
 * Rate = events / time from the first `log()` to `close()` resolved, i.e. all committed.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartContext } from '../context.js';
import { forkChild } from '../processes.js';

export interface EmbeddedPartResult {
  events: number;
  stored: number;
  eventsPerS: number;
  seconds: number;
  dropped: number;
  peakRssMiB: number;
}

const WINDOW = 2000;

export async function runEmbedded(ctx: PartContext): Promise<EmbeddedPartResult> {
  const dataDir = ctx.cleanup.dir(await mkdtemp(join(tmpdir(), `auditline-bench-${ctx.opts.runId}-`)));
  try {
    const child = forkChild(ctx.cleanup, 'embedded');
    ctx.log(`embedded: ${ctx.scale.embeddedEvents} events into PGlite`);
    child.send({ type: 'embedded', config: { dataDir, events: ctx.scale.embeddedEvents, window: WINDOW } });
    const { result } = await child.next('embedded-result');
    if (result.stored !== result.events) {
      throw new Error(`embedded: logged ${result.events} events, ${result.stored} stored`);
    }
    return {
      events: result.events,
      stored: result.stored,
      // The first event (start-up, migrations) is outside the timed span.
      eventsPerS: (result.events - 1) / result.elapsedS,
      seconds: result.elapsedS,
      dropped: result.outcomes.dropped ?? 0,
      peakRssMiB: result.peakRssMiB,
    };
  } finally {
    await ctx.cleanup.runAll();
  }
}
