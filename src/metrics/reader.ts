/**
 * Reads every process's snapshot, the lifetime counters and the queue, and aggregates them
 * at read time: sums across processes (never one process's view), health from
 * `evaluateHealth` (status = the most severe finding), and the seed's response shape.
 */
import {
  evaluateHealth,
  type HealthReport,
  type HealthSnapshot,
  type HealthThresholds,
} from '../core/health.js';
import type { QueueAdapter, QueueInspection } from '../queue/port.js';
import {
  type CounterValues,
  FLUSH_BUCKETS_SECONDS,
  type MetricsStore,
  type ProcessSnapshot,
  type PublishedAlert,
} from './types.js';

/** What the reader needs; it owns none of it. */
export interface MetricsReaderDeps {
  store: MetricsStore;
  queue: Pick<QueueAdapter, 'depth' | 'ping'> & Partial<Pick<QueueAdapter, 'inspect'>>;
  /** The event store (PostgreSQL or PGlite), for the reachability rule. */
  database: { ping(): Promise<void> };
  /** `embedded` reports Redis reachability as not applicable (`null`). */
  mode: 'embedded' | 'distributed';
  thresholds?: Partial<HealthThresholds>;
  /**
   * The reading process's own snapshot and lifetime totals when it does not publish them
   * (see `ProcessMetrics`): added to what the store holds, replacing a stored snapshot of the
   * same name. Null or absent when the process publishes or observes only.
   */
  local?: () => Promise<LocalReading | null>;
  /** How long each dependency probe may take before it counts as unreachable. Default 2,000 ms. */
  probeTimeoutMs?: number;
  now?: () => number;
}

/** A process's own, unpublished reading. */
export interface LocalReading {
  snapshot: ProcessSnapshot;
  /** Its lifetime counters, in the fields of the shared counters hash. */
  totals: CounterValues;
}

/** One process's spill journal, as reported in its snapshot. */
export interface JournalView {
  pendingRecords: number;
  bytes: number;
  /** Age of the oldest pending record; null when none is pending. */
  oldestRecordAgeMs: number | null;
}

/** One process in the response, with its heartbeat age. */
export interface ProcessView {
  name: string;
  role: ProcessSnapshot['role'];
  pid: number;
  heartbeatAgeMs: number;
  uptimeMs: number;
  inserted: number;
  batches: number;
  insertsLastMinute: number;
  failuresLastMinute: number;
  avgBatchTimeMs: number;
  batchSizeLimit: number;
  lastBatchEvents: number;
  maxCommitLagMs: number;
  /** Producer outcomes of this process since it started, over every category. */
  outcomes: { queued: number; spilled: number; direct: number; dropped: number };
  droppedLastMinute: number;
  handoffTimeouts: number;
  journalFallbacks: number;
  gapRecords: number;
  replayed: number;
  /** This process's spill journal; null when it has none. */
  journal: JournalView | null;
}

/** Aggregated metrics: the seed's fields first, then what auditline adds. */
export interface AggregatedMetrics {
  queueLength: number;
  insertsLastMinute: number;
  failuresLastMinute: number;
  /** Mean flush time over the last minute across workers, ms. */
  avgBatchTime: number;
  droppedEvents: number;
  /** Events that did not go straight into the queue: direct + dropped + spilled. */
  overflowEvents: number;
  spilledEvents: number;
  directEvents: number;
  queuedEvents: number;
  /** Events dropped in the last minute, summed over live processes (the `events_dropped` rule). */
  droppedLastMinute: number;
  /** Entries in the dead-letter stream now. */
  deadLetters: number;
  /**
   * Events in the spill journals of live processes, awaiting replay into the queue (the
   * `journal_backlog` rule). A journal left by a process that died is counted again once a
   * process reopens its slot (which replays it).
   */
  journalBacklog: number;
  /** Bytes of those journals on disk. */
  journalBytes: number;
  /** Age of the oldest journaled event over every live process; null when none. */
  oldestJournalRecordAgeMs: number | null;
  /** Entries not yet delivered to any worker; `null` when the queue cannot tell. */
  consumerLag: number | null;
  pendingEntries: number;
  oldestPendingAgeMs: number | null;
  /** Mean events per flush over the last minute. */
  avgBatchSize: number;
  maxCommitLagMs: number;
  avgCommitLagMs: number;
  liveWorkers: number;
  /** Lifetime totals from the shared counters hash (they survive process restarts). */
  insertedTotal: number;
  duplicatesTotal: number;
  batchesTotal: number;
  retriesTotal: number;
  reclaimedTotal: number;
  deadLetteredTotal: number;
  failuresTotal: number;
  rejectedTotal: number;
  /** Producer totals from the shared counters hash. */
  enqueueErrorsTotal: number;
  handoffTimeoutsTotal: number;
  journalFallbacksTotal: number;
  directFailuresTotal: number;
  gapRecordsTotal: number;
  replayedTotal: number;
  /** Producer outcomes: category → outcome → count. */
  events: Record<string, Record<string, number>>;
}

/** Body of `GET /api/monitoring/audit-metrics`. */
export interface AuditMetricsResponse {
  health: HealthReport;
  metrics: AggregatedMetrics;
  workers: ProcessView[];
  /** Non-worker processes (HTTP servers, app producers). */
  producers: ProcessView[];
  consumers: QueueInspection['consumers'];
  /** Alerts the alerting process reports as on. */
  alerts: PublishedAlert[];
  timestamp: string;
}

/** Everything read in one pass; `prometheus.ts` renders the same reading. */
export interface MetricsReading {
  response: AuditMetricsResponse;
  processes: ProcessSnapshot[];
  counters: CounterValues;
  /** Lifetime flush-duration bucket counts of every process (per bucket, `+Inf` last). */
  flushBuckets: number[];
  flushCount: number;
  flushSumSeconds: number;
}

async function probe(fn: () => Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      fn().then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sum = <T>(items: readonly T[], f: (t: T) => number) => items.reduce((acc, t) => acc + f(t), 0);

/** Aggregates metrics, health and queue state across every process of a deployment. */
export class MetricsReader {
  constructor(private readonly deps: MetricsReaderDeps) {}

  /** The seed-shaped response of `GET /api/monitoring/audit-metrics`. */
  async auditMetrics(): Promise<AuditMetricsResponse> {
    return (await this.read()).response;
  }

  /** The health report alone (what the alert manager evaluates). */
  async health(): Promise<HealthReport> {
    return (await this.read()).response.health;
  }

  /** One full reading. Dependencies that fail are reported in health, never thrown. */
  async read(): Promise<MetricsReading> {
    const { store, queue, database, mode } = this.deps;
    const timeoutMs = this.deps.probeTimeoutMs ?? 2000;
    const now = (this.deps.now ?? Date.now)();
    let storeOk = true;
    const fromStore = <T>(p: Promise<T>, fallback: T): Promise<T> =>
      p.catch(() => {
        storeOk = false;
        return fallback;
      });
    const [stored, storedCounters, alerts, inspection, queueOk, databaseOk, local] = await Promise.all([
      fromStore(store.processes(), []),
      fromStore(store.counters(), {} as CounterValues),
      fromStore(store.alerts(), []),
      this.inspect(),
      probe(() => queue.ping(), timeoutMs),
      probe(() => database.ping(), timeoutMs),
      this.deps.local?.().catch(() => null) ?? null,
    ]);
    let processes = stored;
    let counters = storedCounters;
    if (local) {
      processes = [...stored.filter((p) => p.name !== local.snapshot.name), local.snapshot].sort((a, b) =>
        a.name.localeCompare(b.name),
      );
      counters = { ...storedCounters };
      for (const [k, n] of Object.entries(local.totals)) counters[k] = (counters[k] ?? 0) + n;
    }
    const journalView = (p: ProcessSnapshot): JournalView | null =>
      p.journal
        ? {
            pendingRecords: p.journal.pendingRecords,
            bytes: p.journal.bytes,
            oldestRecordAgeMs:
              p.journal.oldestRecordAt === null ? null : Math.max(0, now - p.journal.oldestRecordAt),
          }
        : null;
    const processOutcome = (p: ProcessSnapshot, o: string) =>
      sum(Object.values(p.events ?? {}), (byOutcome) => byOutcome[o] ?? 0);

    const view = (p: ProcessSnapshot): ProcessView => ({
      name: p.name,
      role: p.role,
      pid: p.pid,
      heartbeatAgeMs: Math.max(0, now - p.heartbeatAt),
      uptimeMs: Math.max(0, now - p.startedAt),
      inserted: p.inserted,
      batches: p.batches,
      insertsLastMinute: p.insertsLastMinute,
      failuresLastMinute: p.failuresLastMinute,
      avgBatchTimeMs: Math.round(p.avgFlushMsLastMinute),
      batchSizeLimit: p.batchSizeLimit,
      lastBatchEvents: p.lastBatchEvents,
      maxCommitLagMs: Math.round(p.maxCommitLagMs),
      outcomes: {
        queued: processOutcome(p, 'queued'),
        spilled: processOutcome(p, 'spilled'),
        direct: processOutcome(p, 'direct'),
        dropped: processOutcome(p, 'dropped'),
      },
      // `?? 0`: snapshots published by an older version lack the newer fields.
      droppedLastMinute: p.droppedLastMinute ?? 0,
      handoffTimeouts: p.handoffTimeouts ?? 0,
      journalFallbacks: p.journalFallbacks ?? 0,
      gapRecords: p.gapRecords ?? 0,
      replayed: p.replayed ?? 0,
      journal: journalView(p),
    });
    const journals = processes.map(journalView).filter((j): j is JournalView => j !== null);
    const journalBacklog = sum(journals, (j) => j.pendingRecords);
    const journalAges = journals.flatMap((j) => (j.oldestRecordAgeMs === null ? [] : [j.oldestRecordAgeMs]));
    const workers = processes.filter((p) => p.role === 'worker');
    const flushes = sum(processes, (p) => p.flushesLastMinute);
    const outcome = (o: string) =>
      sum(Object.entries(counters), ([k, v]) => (k.startsWith('events:') && k.endsWith(`:${o}`) ? v : 0));
    const events: Record<string, Record<string, number>> = {};
    for (const [k, v] of Object.entries(counters)) {
      const m = /^events:(.+):([^:]+)$/.exec(k);
      if (!m) continue;
      const byOutcome = events[m[1]!] ?? {};
      byOutcome[m[2]!] = v;
      events[m[1]!] = byOutcome;
    }
    const [dropped, direct, spilled, queued] = ['dropped', 'direct', 'spilled', 'queued'].map(outcome) as [
      number,
      number,
      number,
      number,
    ];
    const metrics: AggregatedMetrics = {
      queueLength: inspection?.depth ?? 0,
      insertsLastMinute: sum(processes, (p) => p.insertsLastMinute),
      failuresLastMinute: sum(processes, (p) => p.failuresLastMinute),
      avgBatchTime:
        flushes > 0
          ? Math.round(sum(processes, (p) => p.avgFlushMsLastMinute * p.flushesLastMinute) / flushes)
          : 0,
      droppedEvents: dropped,
      droppedLastMinute: sum(processes, (p) => p.droppedLastMinute ?? 0),
      overflowEvents: dropped + direct + spilled,
      spilledEvents: spilled,
      directEvents: direct,
      queuedEvents: queued,
      deadLetters: inspection?.deadLetters ?? 0,
      journalBacklog,
      journalBytes: sum(journals, (j) => j.bytes),
      oldestJournalRecordAgeMs: journalAges.length > 0 ? Math.max(...journalAges) : null,
      consumerLag: inspection?.lag ?? null,
      pendingEntries: inspection?.pending ?? 0,
      oldestPendingAgeMs: inspection?.oldestPendingAgeMs ?? null,
      avgBatchSize: flushes > 0 ? Math.round(sum(processes, (p) => p.flushedEventsLastMinute) / flushes) : 0,
      maxCommitLagMs: Math.round(Math.max(0, ...processes.map((p) => p.maxCommitLagMs))),
      avgCommitLagMs:
        flushes > 0 ? Math.round(sum(processes, (p) => p.avgCommitLagMs * p.flushesLastMinute) / flushes) : 0,
      liveWorkers: 0,
      insertedTotal: counters.inserted ?? 0,
      duplicatesTotal: counters.duplicates ?? 0,
      batchesTotal: counters.batches ?? 0,
      retriesTotal: counters.retries ?? 0,
      reclaimedTotal: counters.reclaimed ?? 0,
      deadLetteredTotal: counters.dead_lettered ?? 0,
      failuresTotal: counters.failures ?? 0,
      rejectedTotal: counters.rejected ?? 0,
      enqueueErrorsTotal: counters.enqueue_errors ?? 0,
      handoffTimeoutsTotal: counters.handoff_timeouts ?? 0,
      journalFallbacksTotal: counters.journal_fallbacks ?? 0,
      directFailuresTotal: counters.direct_failures ?? 0,
      gapRecordsTotal: counters.gap_records ?? 0,
      replayedTotal: counters.replayed ?? 0,
      events,
    };
    const workerViews = workers.map(view);
    const snapshot: HealthSnapshot = {
      queueLength: metrics.queueLength,
      insertsLastMinute: metrics.insertsLastMinute,
      failuresLastMinute: metrics.failuresLastMinute,
      avgBatchTimeMs: metrics.avgBatchTime,
      droppedLastMinute: metrics.droppedLastMinute,
      overflowEvents: metrics.overflowEvents,
      spilledEvents: metrics.spilledEvents,
      deadLetters: metrics.deadLetters,
      journalBacklog,
      workers: workerViews.map((w) => ({ name: w.name, heartbeatAgeMs: w.heartbeatAgeMs })),
      redisReachable: mode === 'embedded' ? null : queueOk && storeOk && inspection !== null,
      postgresReachable: databaseOk,
    };
    const thresholds = this.deps.thresholds ?? {};
    const stale = thresholds.workerStaleAfterMs ?? 30_000;
    metrics.liveWorkers = workerViews.filter((w) => w.heartbeatAgeMs <= stale).length;

    const flushBuckets = new Array<number>(FLUSH_BUCKETS_SECONDS.length + 1).fill(0);
    flushBuckets.forEach((_, i) => {
      flushBuckets[i] = counters[`flush_bucket:${i}`] ?? 0;
    });
    return {
      response: {
        health: evaluateHealth(snapshot, thresholds),
        metrics,
        workers: workerViews,
        producers: processes.filter((p) => p.role !== 'worker').map(view),
        consumers: inspection?.consumers ?? [],
        alerts,
        timestamp: new Date(now).toISOString(),
      },
      processes,
      counters,
      flushBuckets,
      flushCount: counters.flush_count ?? 0,
      flushSumSeconds: (counters.flush_sum_us ?? 0) / 1e6,
    };
  }

  /** The queue's monitoring view; `null` when the queue is unreachable. */
  private async inspect(): Promise<QueueInspection | null> {
    const { queue } = this.deps;
    try {
      if (queue.inspect) return await queue.inspect();
      const depth = await queue.depth();
      return { depth, pending: 0, lag: null, oldestPendingAgeMs: null, deadLetters: 0, consumers: [] };
    } catch {
      return null;
    }
  }
}
