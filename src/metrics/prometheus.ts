/**
 * Prometheus exposition of a {@link MetricsReading}. A fresh `prom-client` Registry is built
 * per scrape from values aggregated at read time, so every scrape reflects all processes and
 * nothing is kept between scrapes. Counters come from the shared lifetime hash, so they stay
 * monotonic when a process exits (a sum over live snapshots would fall).
 */
import { Counter, Gauge, type Metric, Registry } from 'prom-client';
import { SEVERITY_RANK } from '../core/health.js';
import type { MetricsReading } from './reader.js';
import { FLUSH_BUCKETS_SECONDS } from './types.js';

/** `auditline_health_status` values: severity rank, and -1 for `no_data`. */
const STATUS_VALUE = { ...SEVERITY_RANK, no_data: -1 } as const;

/**
 * A histogram whose bucket counts are already aggregated. prom-client's `Histogram` only
 * accepts single observations, so this renders the summed buckets through the registry's
 * own formatter (it only needs `name`, `help`, `type` and `get()`).
 */
function aggregatedHistogram(name: string, help: string, reading: MetricsReading): Metric {
  const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
  let cumulative = 0;
  FLUSH_BUCKETS_SECONDS.forEach((le, i) => {
    cumulative += reading.flushBuckets[i] ?? 0;
    values.push({ metricName: `${name}_bucket`, labels: { le }, value: cumulative });
  });
  cumulative += reading.flushBuckets[FLUSH_BUCKETS_SECONDS.length] ?? 0;
  values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: cumulative });
  values.push({ metricName: `${name}_sum`, labels: {}, value: reading.flushSumSeconds });
  values.push({ metricName: `${name}_count`, labels: {}, value: reading.flushCount });
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', values, aggregator: 'sum' }),
  };
  return metric as unknown as Metric;
}

/** Renders the reading as Prometheus text; returns the body and its content type. */
export async function renderPrometheus(
  reading: MetricsReading,
): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  const registers = [registry];
  const { metrics: m, health, workers } = reading.response;
  const gauge = (name: string, help: string, value: number | null, labelNames: string[] = []) => {
    const g = new Gauge({ name, help, labelNames, registers });
    if (value !== null) g.set(value);
    return g;
  };
  const counter = (name: string, help: string, value: number) =>
    new Counter({ name, help, registers }).inc(Math.max(0, value));

  const events = new Counter({
    name: 'auditline_events_total',
    help: 'Events logged by producers, by category and outcome (queued, spilled, direct, dropped).',
    labelNames: ['category', 'outcome'],
    registers,
  });
  for (const [category, outcomes] of Object.entries(m.events)) {
    for (const [outcome, n] of Object.entries(outcomes)) events.inc({ category, outcome }, Math.max(0, n));
  }
  counter('auditline_inserted_total', 'Rows inserted into the store by workers.', m.insertedTotal);
  counter(
    'auditline_duplicates_total',
    'Redelivered events the store already held (not inserted again).',
    m.duplicatesTotal,
  );
  counter('auditline_batches_total', 'Batches committed by workers.', m.batchesTotal);
  counter('auditline_retries_total', 'Batch inserts retried after a transient error.', m.retriesTotal);
  counter(
    'auditline_reclaimed_total',
    'Entries reclaimed from workers that stopped acknowledging.',
    m.reclaimedTotal,
  );
  counter('auditline_dead_lettered_total', 'Entries moved to the dead-letter stream.', m.deadLetteredTotal);
  counter('auditline_insert_failures_total', 'Failed batch insert attempts.', m.failuresTotal);
  counter('auditline_rejected_events_total', 'Events rejected by validation.', m.rejectedTotal);
  counter(
    'auditline_enqueue_errors_total',
    'Producer queue calls that failed or timed out (their events were spilled).',
    m.enqueueErrorsTotal,
  );
  counter(
    'auditline_handoff_timeouts_total',
    'Producer queue calls slower than the handoff timeout (their events were spilled).',
    m.handoffTimeoutsTotal,
  );
  counter(
    'auditline_journal_fallbacks_total',
    'Events that met a full or unusable spill journal and took the journal fallback.',
    m.journalFallbacksTotal,
  );
  counter(
    'auditline_direct_write_failures_total',
    'Events whose direct write to the store failed (then spilled or rejected).',
    m.directFailuresTotal,
  );
  counter('auditline_gap_records_total', 'audit.gap records written for dropped events.', m.gapRecordsTotal);
  counter('auditline_replayed_events_total', 'Journaled events replayed into the queue.', m.replayedTotal);

  gauge('auditline_queue_depth', 'Events in the queue (unread plus pending).', m.queueLength);
  gauge(
    'auditline_queue_pending',
    'Entries delivered to a worker and not yet acknowledged.',
    m.pendingEntries,
  );
  gauge('auditline_consumer_lag', 'Entries not yet delivered to any worker.', m.consumerLag);
  gauge(
    'auditline_oldest_pending_age_seconds',
    'Age of the oldest pending entry since it was enqueued.',
    m.oldestPendingAgeMs === null ? 0 : m.oldestPendingAgeMs / 1000,
  );
  gauge('auditline_dead_letters', 'Entries in the dead-letter stream.', m.deadLetters);
  gauge(
    'auditline_journal_backlog_events',
    'Events in the spill journals of live processes, awaiting replay.',
    m.journalBacklog,
  );
  gauge('auditline_journal_bytes', 'Size on disk of the spill journals of live processes.', m.journalBytes);
  gauge(
    'auditline_journal_oldest_record_age_seconds',
    'Age of the oldest event awaiting replay in any spill journal (0 when none).',
    m.oldestJournalRecordAgeMs === null ? 0 : m.oldestJournalRecordAgeMs / 1000,
  );
  const processJournal = gauge(
    'auditline_process_journal_backlog_events',
    'Events awaiting replay in each live process spill journal.',
    null,
    ['process', 'role'],
  );
  for (const p of [...workers, ...reading.response.producers]) {
    if (p.journal) processJournal.set({ process: p.name, role: p.role }, p.journal.pendingRecords);
  }
  gauge(
    'auditline_events_dropped_last_minute',
    'Events dropped in the last minute over live processes (the events_dropped rule).',
    m.droppedLastMinute,
  );
  gauge('auditline_batch_size', 'Mean events per committed batch over the last minute.', m.avgBatchSize);
  gauge('auditline_workers', 'Workers with a live heartbeat.', m.liveWorkers);
  const lag = gauge(
    'auditline_commit_lag_seconds',
    'Time from an event being created to its commit, over the last minute (stat = max or avg).',
    null,
    ['stat'],
  );
  lag.set({ stat: 'max' }, m.maxCommitLagMs / 1000);
  lag.set({ stat: 'avg' }, m.avgCommitLagMs / 1000);
  const beat = gauge(
    'auditline_worker_heartbeat_age_seconds',
    'Time since each worker last published.',
    null,
    ['worker'],
  );
  for (const w of workers) beat.set({ worker: w.name }, w.heartbeatAgeMs / 1000);
  gauge(
    'auditline_health_status',
    'Overall health: 0 healthy, 1 warning, 2 degraded, 3 critical, -1 no data.',
    STATUS_VALUE[health.status],
  );
  const issues = gauge('auditline_health_issue', 'Health findings currently on (1 per rule).', null, [
    'rule',
    'severity',
  ]);
  for (const i of health.issues) issues.set({ rule: i.rule, severity: i.severity }, 1);
  registry.registerMetric(
    aggregatedHistogram(
      'auditline_flush_duration_seconds',
      'Batch flush (insert + commit) duration.',
      reading,
    ),
  );
  return { contentType: registry.contentType, body: await registry.metrics() };
}
