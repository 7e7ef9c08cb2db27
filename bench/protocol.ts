/** Messages between the benchmark and its load-generator children (bench/children/*.ts). */

/** What a producer child does: `closed` logs as fast as it can; `paced` offers a fixed rate. */
export interface ProduceConfig {
  redisUrl: string;
  databaseUrl: string;
  schema: string;
  keyPrefix: string;
  journalDir: string;
  queueMaxLength: number;
  mode: 'closed' | 'paced';
  /** paced: events/s this child offers. */
  rate: number;
  /** closed: concurrent loops, each logging `window` events per turn and awaiting them. */
  loops: number;
  window: number;
  /** Stop after this long even without a `stop` message (paced mode). */
  durationMs: number;
  seed: number;
}

export interface ProducerResult {
  /** `log()` outcomes (`queued`, `dropped`, `spilled`, `direct`), plus `failed` for rejections. */
  outcomes: Record<string, number>;
  /** Rejection messages, first few. */
  failures: string[];
  /** paced mode: each `log()` latency in microseconds (call to resolution). */
  latenciesUs: number[];
  /** paced mode: how late the generator issued events, at worst (ms). */
  maxScheduleLagMs: number;
  logged: number;
  elapsedS: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

export interface HttpLoadConfig {
  url: string;
  durationS: number;
  connectionsSingle: number;
  connectionsBatch: number;
  batchEvents: number;
}

export interface HttpModeResult {
  requestsPerS: number;
  eventsPerS: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  connections: number;
}

export interface EmbeddedConfig {
  dataDir: string;
  events: number;
  window: number;
}

export interface EmbeddedResult {
  events: number;
  stored: number;
  /** Time from the first `log()` to `close()` resolved (every row committed). */
  elapsedS: number;
  outcomes: Record<string, number>;
  peakRssMiB: number;
}

export type ChildRequest =
  | { type: 'produce'; config: ProduceConfig }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'http'; config: HttpLoadConfig }
  | { type: 'embedded'; config: EmbeddedConfig };

export type ChildReply =
  | { type: 'ready' }
  | { type: 'produced'; result: ProducerResult }
  | { type: 'http-result'; single: HttpModeResult; batch: HttpModeResult }
  | { type: 'embedded-result'; result: EmbeddedResult }
  | { type: 'error'; message: string };

/** Sends a reply to the parent (children only); resolves once it is handed to the channel. */
export function reply(msg: ChildReply): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/** Sends the final reply and exits. */
export async function finish(msg: ChildReply): Promise<never> {
  await reply(msg);
  process.exit(0);
}

/** Children exit when the benchmark goes away, whatever the reason. */
export function exitWithParent(): void {
  process.on('disconnect', () => process.exit(1));
}

/** Peak RSS of this process in MiB. */
export function ownPeakRssMiB(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}
