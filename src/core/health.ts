/**
 * Health evaluation: pure, no I/O. A metrics reader builds a {@link HealthSnapshot}; this
 * module turns it into findings and one overall status.
 *
 * The seed plan assigned `health.status` in each `if`, so a later `warning` overwrote an
 * earlier `critical`. Here every rule only *adds a finding*; the status is computed once,
 * afterwards, as the maximum severity over all findings ({@link worstSeverity}), so no rule
 * order can lower it.
 */

/** Severity of one finding, from least to most severe: `warning` < `degraded` < `critical`. */
export type Severity = 'warning' | 'degraded' | 'critical';

/**
 * Overall status. `healthy` when nothing is wrong; `no_data` when no worker has reported
 * and nothing else is wrong (the seed's "worker not running?" answer); otherwise the most
 * severe finding.
 */
export type HealthStatus = 'healthy' | 'no_data' | Severity;

/** Numeric rank of each severity; the single source of the precedence order. */
export const SEVERITY_RANK: Readonly<Record<'healthy' | Severity, number>> = Object.freeze({
  healthy: 0,
  warning: 1,
  degraded: 2,
  critical: 3,
});

/** Stable ids of the health rules; alerts are keyed by them (PagerDuty `dedup_key`, Slack text). */
export type HealthRuleId =
  | 'queue_backlog'
  | 'failure_rate'
  | 'events_dropped'
  | 'no_live_worker'
  | 'dead_letters'
  | 'journal_backlog'
  | 'postgres_unreachable'
  | 'redis_unreachable'
  | 'slow_batches';

/** One worker as seen by the metrics reader. */
export interface WorkerHeartbeat {
  /** Consumer name of the worker (`AUDITLINE_CONSUMER_NAME`, default host-pid). */
  name: string;
  /** Milliseconds since the worker last published its metrics. */
  heartbeatAgeMs: number;
}

/**
 * Everything health evaluation looks at, aggregated over all workers and producers by the
 * metrics reader. Counters named `…LastMinute` cover the trailing 60 s; the others are
 * current gauges or totals kept by the metrics store.
 */
export interface HealthSnapshot {
  /** Events queued and not yet committed (stream length / in-process queue depth). */
  queueLength: number;
  /** Events committed to the store in the last minute, summed over workers. */
  insertsLastMinute: number;
  /** Failed batch inserts (after retries) in the last minute, summed over workers. */
  failuresLastMinute: number;
  /** Mean flush (insert + commit) time of the batches of the last minute, in ms; 0 when none. */
  avgBatchTimeMs: number;
  /**
   * Events dropped (by a `drop` overflow policy or journal fallback) in the last minute,
   * summed over live processes. A rate, not a lifetime total: the alert resolves once
   * dropping stops (lifetime totals stay in `auditline_events_total{outcome="dropped"}`).
   */
  droppedLastMinute: number;
  /** Events that met a full queue (whatever the policy then did with them). */
  overflowEvents: number;
  /** Events written to the local disk journal instead of the queue. */
  spilledEvents: number;
  /** Entries currently in the dead-letter stream. */
  deadLetters: number;
  /** Events in disk journals waiting to be replayed into the queue. */
  journalBacklog: number;
  /** Workers that have reported a heartbeat the reader can still see, live or stale. */
  workers: WorkerHeartbeat[];
  /** Whether Redis answered; `null` when no Redis is used (embedded mode). */
  redisReachable: boolean | null;
  /** Whether PostgreSQL (or PGlite) answered. */
  postgresReachable: boolean;
}

/** Rule thresholds. A value strictly above a `max…` threshold is a finding, as in the seed. */
export interface HealthThresholds {
  /** `queue_backlog` (critical) when `queueLength` exceeds this. Seed: 5,000. */
  maxQueueLength: number;
  /** `failure_rate` (critical) when `failuresLastMinute` exceeds this. Seed: 100. */
  maxFailuresPerMinute: number;
  /**
   * `events_dropped` (warning) when `droppedLastMinute` exceeds this. Seed: 1,000. The seed
   * compared a lifetime count, so once reached the alert never resolved; here it is a rate.
   */
  maxDroppedPerMinute: number;
  /** `dead_letters` (warning) when `deadLetters` exceeds this. Default 0: any dead letter. */
  maxDeadLetters: number;
  /** `journal_backlog` (warning) when `journalBacklog` exceeds this. Default 1,000. */
  maxJournalBacklog: number;
  /**
   * `slow_batches` (degraded) when `avgBatchTimeMs` exceeds this. Default 2,000 ms: ten
   * times the default `AUDITLINE_TARGET_FLUSH_MS`, i.e. the adaptive batch size can no
   * longer keep flushes near target and latency is growing.
   */
  maxAvgBatchTimeMs: number;
  /**
   * A worker whose heartbeat is older than this is not live. Default 30,000 ms; keep it at
   * least 3 heartbeat intervals so one late report does not page anyone.
   */
  workerStaleAfterMs: number;
  /** `no_live_worker` (critical) when fewer live workers than this. Default 1. */
  minLiveWorkers: number;
}

/** The seed's thresholds, plus defaults for the rules the seed lacked. */
export const DEFAULT_HEALTH_THRESHOLDS: Readonly<HealthThresholds> = Object.freeze({
  maxQueueLength: 5_000,
  maxFailuresPerMinute: 100,
  maxDroppedPerMinute: 1_000,
  maxDeadLetters: 0,
  maxJournalBacklog: 1_000,
  maxAvgBatchTimeMs: 2_000,
  workerStaleAfterMs: 30_000,
  minLiveWorkers: 1,
});

/** One finding. */
export interface HealthIssue {
  /** Stable rule id; never changes between releases. */
  rule: HealthRuleId;
  severity: Severity;
  /** Human-readable, one line. */
  message: string;
  /** The observed value (`false` for an unreachable dependency). */
  value: number | boolean;
  /** The configured threshold (`true`, "reachable", for dependency rules). */
  threshold: number | boolean;
}

/** Result of {@link evaluateHealth}. */
export interface HealthReport {
  status: HealthStatus;
  /** Findings in rule order (the order of {@link HEALTH_RULES}), at most one per rule. */
  issues: HealthIssue[];
}

/** Every rule id with its fixed severity, in evaluation order. */
export const HEALTH_RULES: ReadonlyArray<{ rule: HealthRuleId; severity: Severity }> = Object.freeze([
  { rule: 'postgres_unreachable', severity: 'critical' },
  { rule: 'redis_unreachable', severity: 'critical' },
  { rule: 'no_live_worker', severity: 'critical' },
  { rule: 'queue_backlog', severity: 'critical' },
  { rule: 'failure_rate', severity: 'critical' },
  { rule: 'slow_batches', severity: 'degraded' },
  { rule: 'events_dropped', severity: 'warning' },
  { rule: 'dead_letters', severity: 'warning' },
  { rule: 'journal_backlog', severity: 'warning' },
]);

const severityOf = Object.fromEntries(HEALTH_RULES.map((r) => [r.rule, r.severity])) as Record<
  HealthRuleId,
  Severity
>;

function issue(
  rule: HealthRuleId,
  message: string,
  value: number | boolean,
  threshold: number | boolean,
): HealthIssue {
  return { rule, severity: severityOf[rule], message, value, threshold };
}

/** The most severe of the findings' severities, `healthy` when there are none. */
export function worstSeverity(issues: readonly HealthIssue[]): 'healthy' | Severity {
  let worst: 'healthy' | Severity = 'healthy';
  for (const i of issues) if (SEVERITY_RANK[i.severity] > SEVERITY_RANK[worst]) worst = i.severity;
  return worst;
}

/** Number of workers whose heartbeat is fresh enough to count as live. */
export function liveWorkerCount(snapshot: HealthSnapshot, staleAfterMs: number): number {
  return snapshot.workers.filter((w) => w.heartbeatAgeMs <= staleAfterMs).length;
}

/**
 * Evaluates every rule against the snapshot.
 *
 * Status is {@link worstSeverity} of all findings, with one exception kept from the seed: when
 * no worker has reported at all and `no_live_worker` is the only finding, the status is
 * `no_data`. The `no_live_worker` issue is still listed then, so alerting (which acts on
 * issues, not on status) still pages when every worker has died and its metrics expired.
 */
export function evaluateHealth(
  snapshot: HealthSnapshot,
  thresholds: Partial<HealthThresholds> = {},
): HealthReport {
  const t: HealthThresholds = { ...DEFAULT_HEALTH_THRESHOLDS, ...thresholds };
  const s = snapshot;
  const issues: HealthIssue[] = [];

  if (!s.postgresReachable) issues.push(issue('postgres_unreachable', 'PostgreSQL unreachable', false, true));
  if (s.redisReachable === false) issues.push(issue('redis_unreachable', 'Redis unreachable', false, true));
  const live = liveWorkerCount(s, t.workerStaleAfterMs);
  if (live < t.minLiveWorkers) {
    const seen = s.workers.length;
    issues.push(
      issue(
        'no_live_worker',
        seen === 0
          ? 'No worker has reported (worker not running?)'
          : `${live} live worker(s) of ${seen} reported; no heartbeat within ${t.workerStaleAfterMs} ms`,
        live,
        t.minLiveWorkers,
      ),
    );
  }
  if (s.queueLength > t.maxQueueLength)
    issues.push(
      issue('queue_backlog', `Queue backed up: ${s.queueLength} events`, s.queueLength, t.maxQueueLength),
    );
  if (s.failuresLastMinute > t.maxFailuresPerMinute)
    issues.push(
      issue(
        'failure_rate',
        `High failure rate: ${s.failuresLastMinute} failures in the last minute`,
        s.failuresLastMinute,
        t.maxFailuresPerMinute,
      ),
    );
  if (s.avgBatchTimeMs > t.maxAvgBatchTimeMs)
    issues.push(
      issue(
        'slow_batches',
        `Slow batches: ${s.avgBatchTimeMs} ms average flush`,
        s.avgBatchTimeMs,
        t.maxAvgBatchTimeMs,
      ),
    );
  if (s.droppedLastMinute > t.maxDroppedPerMinute)
    issues.push(
      issue(
        'events_dropped',
        `Events being dropped: ${s.droppedLastMinute} in the last minute`,
        s.droppedLastMinute,
        t.maxDroppedPerMinute,
      ),
    );
  if (s.deadLetters > t.maxDeadLetters)
    issues.push(
      issue(
        'dead_letters',
        `Dead-letter stream holds ${s.deadLetters} entries`,
        s.deadLetters,
        t.maxDeadLetters,
      ),
    );
  if (s.journalBacklog > t.maxJournalBacklog)
    issues.push(
      issue(
        'journal_backlog',
        `Disk journal backlog: ${s.journalBacklog} events awaiting replay`,
        s.journalBacklog,
        t.maxJournalBacklog,
      ),
    );

  const onlyNoData = s.workers.length === 0 && issues.length === 1 && issues[0]?.rule === 'no_live_worker';
  return { status: onlyNoData ? 'no_data' : worstSeverity(issues), issues };
}
