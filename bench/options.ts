/**
 * Options of the benchmark and the sizes each scale implies. `full` is what the README
 * table reports; `tiny` only proves that every part still runs (the test suite uses it).
 */
import { parseArgs } from 'node:util';

/** The parts of one benchmark run, in the order they run. */
export const ALL_PARTS = ['limit', 'e2e', 'drain', 'seed', 'http', 'embedded'] as const;
export type BenchPart = (typeof ALL_PARTS)[number];

export type BenchScale = 'full' | 'tiny';

export interface BenchOptions {
  /** Seconds each sustained phase (end to end, seed scenario) runs; HTTP runs half of it per mode. */
  durationS: number;
  only: BenchPart[];
  /** Worker processes in the end-to-end and drain parts (the seed scenario always uses 4). */
  workers: number;
  scale: BenchScale;
  /** Full runs; the report shows the median of each number over them. */
  runs: number;
  redisUrl: string;
  databaseUrl: string;
  /** Where `<date>-<host>.json` and `latest.md` go; null writes nothing. */
  outDir: string | null;
  /** Run the end-to-end workers under `--cpu-prof` and summarise their profiles. */
  profile: boolean;
  /** Names every schema (`bench_<runId>_…`) and key prefix (`bench:<runId>:…`) of this run. */
  runId: string;
  /** Progress lines; default stderr. */
  log: (line: string) => void;
}

/** Sizes that depend on the scale. */
export interface ScaleSettings {
  /** Rows COPYed by the limit part, and rows per COPY statement. */
  limitRows: number;
  limitBatchRows: number;
  /** Producer processes and, per process, concurrent `log()` loops and events per loop turn. */
  producers: number;
  producerLoops: number;
  producerWindow: number;
  /**
   * End-to-end flow control on the stream length: producers pause above `highWater` and
   * resume below `lowWater`, so the workers always have a backlog (the sustained maximum)
   * without producers spending CPU on a backlog nobody can drain.
   */
  highWater: number;
  lowWater: number;
  /** The seed scenario: offered events/s, queue cap, workers. */
  seedRate: number;
  seedCap: number;
  seedWorkers: number;
  /** HTTP: autocannon connections for single-event and batch requests, and events per batch. */
  httpConnectionsSingle: number;
  httpConnectionsBatch: number;
  httpBatchEvents: number;
  /** Events logged in embedded mode. */
  embeddedEvents: number;
  /** Backlog the drain part fills before its workers start. */
  drainBacklog: number;
  /** Longest wait for a backlog to drain after producers stop. */
  drainTimeoutMs: number;
}

export function scaleSettings(scale: BenchScale): ScaleSettings {
  if (scale === 'tiny') {
    return {
      limitRows: 4_000,
      limitBatchRows: 1_000,
      producers: 2,
      producerLoops: 1,
      producerWindow: 200,
      highWater: 4_000,
      lowWater: 2_000,
      seedRate: 1_000,
      seedCap: 10_000,
      seedWorkers: 4,
      httpConnectionsSingle: 4,
      httpConnectionsBatch: 2,
      httpBatchEvents: 100,
      embeddedEvents: 1_000,
      drainBacklog: 4_000,
      drainTimeoutMs: 60_000,
    };
  }
  return {
    limitRows: 600_000,
    limitBatchRows: 5_000,
    producers: 2,
    producerLoops: 2,
    producerWindow: 1_000,
    highWater: 60_000,
    lowWater: 30_000,
    seedRate: 10_000,
    seedCap: 10_000,
    seedWorkers: 4,
    httpConnectionsSingle: 32,
    httpConnectionsBatch: 8,
    httpBatchEvents: 100,
    embeddedEvents: 50_000,
    drainBacklog: 300_000,
    drainTimeoutMs: 180_000,
  };
}

const USAGE = `Usage: npm run bench -- [options]

  --duration <s>      seconds of each sustained phase (default 30)
  --only <parts>      comma-separated subset of: ${ALL_PARTS.join(', ')}
  --workers <n>       worker processes in the end-to-end part (default 2)
  --scale <s>         full (default) or tiny (seconds; for the test suite)
  --runs <n>          repeat the whole run n times and report medians (default 1)
  --out <dir>         results directory (default bench/results); --no-write writes nothing
  --profile           run end-to-end workers with --cpu-prof and print their hottest functions
  --redis-url, --database-url   default REDIS_URL/DATABASE_URL or the local test servers`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** Parses command-line arguments into options (unset ones keep their defaults). */
export function parseBenchArgs(argv: readonly string[]): Partial<BenchOptions> & { help?: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      only: { type: 'string' },
      workers: { type: 'string' },
      scale: { type: 'string' },
      runs: { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean' },
      profile: { type: 'boolean' },
      'redis-url': { type: 'string' },
      'database-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const out: Partial<BenchOptions> & { help?: boolean } = {};
  if (values.help) out.help = true;
  if (values.duration !== undefined) out.durationS = positiveInt('duration', values.duration, 30);
  if (values.workers !== undefined) out.workers = positiveInt('workers', values.workers, 2);
  if (values.runs !== undefined) out.runs = positiveInt('runs', values.runs, 1);
  if (values.scale !== undefined) {
    if (values.scale !== 'full' && values.scale !== 'tiny') throw new Error('--scale must be full or tiny');
    out.scale = values.scale;
  }
  if (values.only !== undefined) {
    const parts = values.only.split(',').map((s) => s.trim());
    for (const p of parts) {
      if (!(ALL_PARTS as readonly string[]).includes(p)) {
        throw new Error(`--only: unknown part "${p}" (parts: ${ALL_PARTS.join(', ')})`);
      }
    }
    out.only = parts as BenchPart[];
  }
  if (values.out !== undefined) out.outDir = values.out;
  if (values['no-write']) out.outDir = null;
  if (values.profile) out.profile = true;
  if (values['redis-url'] !== undefined) out.redisUrl = values['redis-url'];
  if (values['database-url'] !== undefined) out.databaseUrl = values['database-url'];
  return out;
}

export const BENCH_USAGE = USAGE;
