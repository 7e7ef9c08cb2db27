/**
 * What one process measures: fed by the worker's `onFlush`/`onError` hooks, read together
 * with the worker's and producer's own counters into a {@link ProcessSnapshot}. Pure
 * bookkeeping: no I/O, no timers; the clock is injectable.
 */
import type { JournalStatus } from '../journal/index.js';
import type { ProducerStats } from '../producer.js';
import type { FlushReport, WorkerStats } from '../worker/worker.js';
import {
  type BucketHistogram,
  type CounterValues,
  FLUSH_BUCKETS_SECONDS,
  type JournalBacklog,
  type ProcessSnapshot,
} from './types.js';

const WINDOW_SECONDS = 60;

interface Second {
  /** Epoch second this slot holds; a slot from an older second reads as empty. */
  sec: number;
  inserts: number;
  failures: number;
  flushes: number;
  flushedEvents: number;
  flushMs: number;
  lagMsSum: number;
  lagMsMax: number;
  dropped: number;
}

const emptySecond = (sec: number): Second => ({
  sec,
  inserts: 0,
  failures: 0,
  flushes: 0,
  flushedEvents: 0,
  flushMs: 0,
  lagMsSum: 0,
  lagMsMax: 0,
  dropped: 0,
});

/** Identity of the process a recorder describes. */
export interface RecorderIdentity {
  role: ProcessSnapshot['role'];
  name: string;
}

/** Where the recorder reads the counters other components keep. */
export interface RecorderSources {
  worker?: { readonly stats: WorkerStats } | null;
  producer?: ProducerSource | null;
}

/** What the recorder reads from a producer; `journalStatus` only when it has a journal. */
export interface ProducerSource {
  stats(): ProducerStats;
  journalStatus?(): Promise<Pick<JournalStatus, 'pendingRecords' | 'bytes' | 'oldestRecordAt'> | null>;
}

/** Events with outcome `dropped`, over every category. */
function droppedTotal(stats: ProducerStats | undefined): number {
  let n = 0;
  for (const outcomes of Object.values(stats?.events ?? {})) n += outcomes.dropped ?? 0;
  return n;
}

/**
 * Per-process metrics: a rolling window of 60 one-second slots (the seed reset a per-minute
 * counter every minute, so a reading just after the reset showed ~0), and a fixed-bucket
 * flush-duration histogram.
 */
export class MetricsRecorder {
  private readonly window: Second[] = Array.from({ length: WINDOW_SECONDS }, () => emptySecond(-1));
  private readonly histogram: BucketHistogram = {
    counts: new Array<number>(FLUSH_BUCKETS_SECONDS.length + 1).fill(0),
    count: 0,
    sum: 0,
  };
  private lastBatchEvents = 0;
  private failuresTotal = 0;
  /** The producer's dropped total at the last sample; the difference goes into the window. */
  private droppedSeen = 0;
  private journal: JournalBacklog | null = null;
  readonly startedAt: number;
  /** Where worker and producer counters come from; set by whoever wires the process. */
  sources: RecorderSources = {};

  /**
   * @param identity role and unique name of this process.
   * @param now clock in epoch ms; injectable for tests.
   */
  constructor(
    public identity: RecorderIdentity,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  /** The worker's `onFlush` hook. Never throws. */
  readonly onFlush = (report: FlushReport): void => {
    const slot = this.slot();
    slot.inserts += report.inserted;
    slot.flushes += 1;
    slot.flushedEvents += report.events;
    slot.flushMs += report.elapsedMs;
    slot.lagMsSum += report.maxLagMs;
    slot.lagMsMax = Math.max(slot.lagMsMax, report.maxLagMs);
    this.lastBatchEvents = report.events;
    const seconds = report.elapsedMs / 1000;
    let i = FLUSH_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
    if (i < 0) i = FLUSH_BUCKETS_SECONDS.length;
    this.histogram.counts[i] = (this.histogram.counts[i] ?? 0) + 1;
    this.histogram.count += 1;
    this.histogram.sum += seconds;
  };

  /**
   * The worker's `onError` hook: a failed append attempt (context `append …`) counts as one
   * failed batch insert, as `HealthSnapshot.failuresLastMinute` defines it. Other contexts
   * (read, ack) are queue trouble, which the Redis reachability rule covers.
   */
  readonly onError = (_err: unknown, context: string): void => {
    if (!context.startsWith('append')) return;
    this.slot().failures += 1;
    this.failuresTotal += 1;
  };

  /**
   * Reads the producer's journal status (asynchronous: it may read the oldest record from
   * disk), then takes a {@link snapshot}. A failed read keeps the last known status. Never
   * rejects.
   */
  async collect(): Promise<ProcessSnapshot> {
    const source = this.sources.producer;
    if (source?.journalStatus) {
      try {
        const st = await source.journalStatus();
        this.journal = st && {
          pendingRecords: st.pendingRecords,
          bytes: st.bytes,
          oldestRecordAt: st.oldestRecordAt?.getTime() ?? null,
        };
      } catch {
        // The journal closed under us (shutdown) or the disk failed: keep the last reading.
      }
    }
    return this.snapshot();
  }

  /**
   * This process's snapshot now, with the journal status of the last {@link collect}.
   * Also samples the producer's drop counter into the rolling window.
   */
  snapshot(): ProcessSnapshot {
    const now = this.now();
    const nowSec = Math.floor(now / 1000);
    const ps = this.sources.producer?.stats();
    // Drops are counted by the producer as a lifetime total; the window needs them per
    // second, so each sample adds what was dropped since the previous one.
    const dropped = droppedTotal(ps);
    if (dropped > this.droppedSeen) this.slot().dropped += dropped - this.droppedSeen;
    this.droppedSeen = dropped;
    const w = emptySecond(nowSec);
    for (const s of this.window) {
      if (s.sec <= nowSec - WINDOW_SECONDS || s.sec > nowSec) continue;
      w.inserts += s.inserts;
      w.failures += s.failures;
      w.flushes += s.flushes;
      w.flushedEvents += s.flushedEvents;
      w.flushMs += s.flushMs;
      w.lagMsSum += s.lagMsSum;
      w.lagMsMax = Math.max(w.lagMsMax, s.lagMsMax);
      w.dropped += s.dropped;
    }
    const ws = this.sources.worker?.stats;
    const events: Record<string, Record<string, number>> = {};
    for (const [category, outcomes] of Object.entries(ps?.events ?? {})) {
      events[category] = Object.fromEntries(Object.entries(outcomes).map(([k, v]) => [k, v ?? 0]));
    }
    return {
      role: this.identity.role,
      name: this.identity.name,
      pid: process.pid,
      startedAt: this.startedAt,
      heartbeatAt: now,
      batches: ws?.batches ?? 0,
      inserted: ws?.inserted ?? 0,
      duplicates: ws?.duplicates ?? 0,
      retries: ws?.retries ?? 0,
      reclaimed: ws?.reclaimed ?? 0,
      deadLettered: ws?.deadLettered ?? 0,
      batchSizeLimit: ws?.batchSize ?? 0,
      lastBatchEvents: this.lastBatchEvents,
      insertsLastMinute: w.inserts,
      failuresLastMinute: w.failures,
      flushesLastMinute: w.flushes,
      flushedEventsLastMinute: w.flushedEvents,
      avgFlushMsLastMinute: w.flushes > 0 ? w.flushMs / w.flushes : 0,
      flushHistogram: structuredClone(this.histogram),
      maxCommitLagMs: w.lagMsMax,
      avgCommitLagMs: w.flushes > 0 ? w.lagMsSum / w.flushes : 0,
      events,
      rejected: ps?.rejected ?? 0,
      enqueueErrors: ps?.enqueueErrors ?? 0,
      handoffTimeouts: ps?.handoffTimeouts ?? 0,
      journalFallbacks: ps?.journalFallbacks ?? 0,
      directFailures: ps?.directFailures ?? 0,
      gapRecords: ps?.gapRecords ?? 0,
      replayed: ps?.replayed ?? 0,
      droppedLastMinute: w.dropped,
      journal: this.journal && { ...this.journal },
    };
  }

  /**
   * Lifetime totals of this process, as fields of the shared counters hash. The publisher
   * sends the difference from the last published totals, so the hash sums every process.
   */
  totals(snapshot: ProcessSnapshot = this.snapshot()): CounterValues {
    const t: CounterValues = {
      inserted: snapshot.inserted,
      duplicates: snapshot.duplicates,
      batches: snapshot.batches,
      retries: snapshot.retries,
      reclaimed: snapshot.reclaimed,
      dead_lettered: snapshot.deadLettered,
      failures: this.failuresTotal,
      rejected: snapshot.rejected,
      enqueue_errors: snapshot.enqueueErrors,
      handoff_timeouts: snapshot.handoffTimeouts,
      journal_fallbacks: snapshot.journalFallbacks,
      direct_failures: snapshot.directFailures,
      gap_records: snapshot.gapRecords,
      replayed: snapshot.replayed,
    };
    // The histogram goes into the shared hash too, so the Prometheus histogram is a lifetime
    // (monotonic) one: summing only live snapshots would shrink whenever a process exits.
    const h = snapshot.flushHistogram;
    h.counts.forEach((c, i) => {
      t[`flush_bucket:${i}`] = c;
    });
    t.flush_count = h.count;
    // HINCRBY takes integers: the sum is kept in microseconds.
    t.flush_sum_us = Math.round(h.sum * 1e6);
    for (const [category, outcomes] of Object.entries(snapshot.events)) {
      for (const [outcome, n] of Object.entries(outcomes)) t[`events:${category}:${outcome}`] = n;
    }
    return t;
  }

  private slot(): Second {
    const sec = Math.floor(this.now() / 1000);
    const i = sec % WINDOW_SECONDS;
    let s = this.window[i]!;
    if (s.sec !== sec) {
      s = emptySecond(sec);
      this.window[i] = s;
    }
    return s;
  }
}

/** `current - previous` per field, leaving out zeros. */
export function counterDeltas(current: CounterValues, previous: CounterValues): CounterValues {
  const out: CounterValues = {};
  for (const [k, v] of Object.entries(current)) {
    const d = v - (previous[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
