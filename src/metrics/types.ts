/**
 * Metrics types shared by the recorder (what one process measures), the stores (where
 * snapshots and counters live) and the reader (what monitoring aggregates).
 *
 * The seed plan had 4 workers `SETEX` one `audit:metrics` key, so the last writer won and
 * the others' work vanished. Here every process publishes its own snapshot under its own
 * key, and lifetime totals are added (never set) into one shared counters hash.
 */

/** What a process does; only `worker` snapshots count as live workers in health. */
export type ProcessRole = 'worker' | 'producer' | 'server';

/**
 * Upper bounds (seconds) of the flush-duration histogram buckets. Fixed for every process so
 * readers can add bucket counts across processes into one Prometheus histogram.
 */
export const FLUSH_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** A histogram with {@link FLUSH_BUCKETS_SECONDS} bounds; `counts` are per bucket, not cumulative. */
export interface BucketHistogram {
  /** One count per bound, plus a last one for `+Inf`. */
  counts: number[];
  /** Observations. */
  count: number;
  /** Sum of observed values, in seconds. */
  sum: number;
}

/** A process's spill journal at the time of its snapshot. */
export interface JournalBacklog {
  /** Events journaled and not yet replayed into the queue. */
  pendingRecords: number;
  /** Bytes of the journal's segment files on disk. */
  bytes: number;
  /** Epoch ms the oldest pending record was journaled; null when none is pending. */
  oldestRecordAt: number | null;
}

/** One process's own metrics, published with a TTL (its heartbeat). */
export interface ProcessSnapshot {
  role: ProcessRole;
  /** Unique per process: the worker's consumer name, or `<role>-<host>-<pid>`. */
  name: string;
  pid: number;
  /** Epoch ms. */
  startedAt: number;
  /** Epoch ms of this snapshot (the publisher's clock). */
  heartbeatAt: number;
  /** Worker totals since the process started (zero for non-workers). */
  batches: number;
  inserted: number;
  duplicates: number;
  retries: number;
  reclaimed: number;
  deadLettered: number;
  /** Current adaptive batch-size limit. */
  batchSizeLimit: number;
  /** Events in the last committed flush. */
  lastBatchEvents: number;
  /** Rolling 60 s window, summed. */
  insertsLastMinute: number;
  failuresLastMinute: number;
  flushesLastMinute: number;
  /** Events committed by those flushes (for the average batch size). */
  flushedEventsLastMinute: number;
  /** Mean flush time over the last minute, ms; 0 when none. */
  avgFlushMsLastMinute: number;
  /** Flush durations since start. */
  flushHistogram: BucketHistogram;
  /** created_at → commit over the last minute's flushes, ms; 0 when none. */
  maxCommitLagMs: number;
  avgCommitLagMs: number;
  /** Producer outcomes since start: category → outcome → count. */
  events: Record<string, Record<string, number>>;
  /** Producer: events rejected by validation; enqueue calls that failed. */
  rejected: number;
  enqueueErrors: number;
  /** Producer totals since start (see `ProducerStats`); 0 for processes without one. */
  handoffTimeouts: number;
  journalFallbacks: number;
  directFailures: number;
  gapRecords: number;
  replayed: number;
  /**
   * Events this process dropped in the last 60 s (any category). Sampled: drops are added
   * to the window when a snapshot is taken, so they count up to one heartbeat late.
   */
  droppedLastMinute: number;
  /** This process's spill journal; null when it has none (or it could not be read yet). */
  journal: JournalBacklog | null;
}

/**
 * Lifetime counters in the shared hash, keyed by field name: `events:<category>:<outcome>`,
 * `inserted`, `duplicates`, `batches`, `retries`, `reclaimed`, `dead_lettered`, `failures`,
 * `rejected`, `enqueue_errors`, `handoff_timeouts`, `journal_fallbacks`, `direct_failures`,
 * `gap_records`, `replayed`, and the flush histogram: `flush_bucket:<i>` (index into
 * {@link FLUSH_BUCKETS_SECONDS}, the last one `+Inf`), `flush_count`, `flush_sum_us`.
 */
export type CounterValues = Record<string, number>;

/** An alert currently on, as published by the process holding the alert lease. */
export interface PublishedAlert {
  rule: string;
  severity: string;
  message: string;
  /** Epoch ms the condition was first seen. */
  startedAt: number;
}

/**
 * Where snapshots and counters live: Redis in distributed mode, process memory in embedded
 * mode. Every method is one round trip.
 */
export interface MetricsStore {
  /**
   * Writes `snapshot` under its name with a time to live of `ttlMs`, records the heartbeat in
   * the index, and adds `deltas` to the lifetime counters, atomically.
   */
  publish(snapshot: ProcessSnapshot, deltas: CounterValues, ttlMs: number): Promise<void>;
  /** Adds to the lifetime counters and removes the process's snapshot (graceful exit). */
  retire(name: string, deltas: CounterValues): Promise<void>;
  /** Snapshots that have not expired. */
  processes(): Promise<ProcessSnapshot[]>;
  /** The lifetime counters. */
  counters(): Promise<CounterValues>;
  /** Replaces the list of alerts that are on; it expires after `ttlMs` unless republished. */
  publishAlerts(alerts: readonly PublishedAlert[], ttlMs: number): Promise<void>;
  /** The alerts last published and not expired; empty when alerting is not running. */
  alerts(): Promise<PublishedAlert[]>;
  close(): Promise<void>;
}
