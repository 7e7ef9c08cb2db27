import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_HEALTH_THRESHOLDS,
  evaluateHealth,
  HEALTH_RULES,
  type HealthRuleId,
  type HealthSnapshot,
} from '../../src/core/health.js';

/** A snapshot that triggers no rule. */
function healthy(): HealthSnapshot {
  return {
    queueLength: 10,
    insertsLastMinute: 5000,
    failuresLastMinute: 0,
    avgBatchTimeMs: 40,
    droppedLastMinute: 0,
    overflowEvents: 0,
    spilledEvents: 0,
    deadLetters: 0,
    journalBacklog: 0,
    workers: [{ name: 'w1', heartbeatAgeMs: 1000 }],
    redisReachable: true,
    postgresReachable: true,
  };
}

const T = DEFAULT_HEALTH_THRESHOLDS;

/** How to make each rule fire on its own (the no-worker rule via a stale heartbeat). */
const TRIGGER: Record<HealthRuleId, (s: HealthSnapshot) => void> = {
  postgres_unreachable: (s) => {
    s.postgresReachable = false;
  },
  redis_unreachable: (s) => {
    s.redisReachable = false;
  },
  no_live_worker: (s) => {
    s.workers = [{ name: 'w1', heartbeatAgeMs: T.workerStaleAfterMs + 1 }];
  },
  queue_backlog: (s) => {
    s.queueLength = 5001;
  },
  failure_rate: (s) => {
    s.failuresLastMinute = 101;
  },
  slow_batches: (s) => {
    s.avgBatchTimeMs = T.maxAvgBatchTimeMs + 1;
  },
  events_dropped: (s) => {
    s.droppedLastMinute = 1001;
  },
  dead_letters: (s) => {
    s.deadLetters = 1;
  },
  journal_backlog: (s) => {
    s.journalBacklog = T.maxJournalBacklog + 1;
  },
};

// Written out independently of SEVERITY_RANK so the test does not trust the code under test.
const EXPECTED_SEVERITY: Record<HealthRuleId, string> = {
  postgres_unreachable: 'critical',
  redis_unreachable: 'critical',
  no_live_worker: 'critical',
  queue_backlog: 'critical',
  failure_rate: 'critical',
  slow_batches: 'degraded',
  events_dropped: 'warning',
  dead_letters: 'warning',
  journal_backlog: 'warning',
};
const ORDER = ['healthy', 'warning', 'degraded', 'critical'];

function expectedStatus(rules: HealthRuleId[]): string {
  let worst = 'healthy';
  for (const r of rules) {
    const sev = EXPECTED_SEVERITY[r];
    if (ORDER.indexOf(sev) > ORDER.indexOf(worst)) worst = sev;
  }
  return worst;
}

function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 0; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => mask & (1 << i)));
  return out;
}

const ALL_RULES = HEALTH_RULES.map((r) => r.rule);

describe('evaluateHealth: precedence', () => {
  it('covers exactly the nine documented rules with the documented severities', () => {
    assert.deepEqual(Object.fromEntries(HEALTH_RULES.map((r) => [r.rule, r.severity])), EXPECTED_SEVERITY);
  });

  it('a healthy snapshot is healthy with no issues', () => {
    assert.deepEqual(evaluateHealth(healthy()), { status: 'healthy', issues: [] });
  });

  it('status is the most severe finding for every one of the 512 combinations of rules', () => {
    const all = subsets(ALL_RULES);
    assert.equal(all.length, 512);
    for (const rules of all) {
      const s = healthy();
      for (const r of rules) TRIGGER[r](s);
      const report = evaluateHealth(s);
      const label = rules.join('+') || '(none)';
      assert.deepEqual(
        report.issues.map((i) => i.rule),
        ALL_RULES.filter((r) => rules.includes(r)),
        `issues for ${label}`,
      );
      assert.equal(report.status, expectedStatus(rules), `status for ${label}`);
      for (const i of report.issues) assert.equal(i.severity, EXPECTED_SEVERITY[i.rule]);
    }
  });

  it('the order of findings cannot lower the status (the seed overwrote critical with warning)', () => {
    const s = healthy();
    TRIGGER.failure_rate(s);
    TRIGGER.events_dropped(s);
    assert.equal(evaluateHealth(s).status, 'critical');
  });

  it('no worker reported: no_data alone, and the most severe finding with anything else', () => {
    const others = ALL_RULES.filter((r) => r !== 'no_live_worker');
    for (const rules of subsets(others)) {
      const s = healthy();
      for (const r of rules) TRIGGER[r](s);
      s.workers = [];
      const report = evaluateHealth(s);
      const label = rules.join('+') || '(none)';
      // The no-worker finding is always listed, so alerting still pages when metrics expire.
      assert.ok(
        report.issues.some((i) => i.rule === 'no_live_worker' && i.severity === 'critical'),
        label,
      );
      assert.equal(report.status, rules.length === 0 ? 'no_data' : 'critical', label);
    }
  });
});

describe('evaluateHealth: boundaries (strictly above the threshold, as in the seed)', () => {
  const numeric: Array<[HealthRuleId, keyof HealthSnapshot, number]> = [
    ['queue_backlog', 'queueLength', 5000],
    ['failure_rate', 'failuresLastMinute', 100],
    ['events_dropped', 'droppedLastMinute', 1000],
    ['dead_letters', 'deadLetters', 0],
    ['journal_backlog', 'journalBacklog', 1000],
    ['slow_batches', 'avgBatchTimeMs', 2000],
  ];
  for (const [rule, field, threshold] of numeric) {
    it(`${rule}: ${field} = ${threshold} is fine, ${threshold + 1} is a finding`, () => {
      const at = { ...healthy(), [field]: threshold };
      assert.deepEqual(evaluateHealth(at).issues, []);
      const above = { ...healthy(), [field]: threshold + 1 };
      const [found, ...rest] = evaluateHealth(above).issues;
      assert.deepEqual(rest, []);
      assert.equal(found?.rule, rule);
      assert.equal(found?.value, threshold + 1);
      assert.equal(found?.threshold, threshold);
      assert.equal(typeof found?.message, 'string');
    });
  }

  it('thresholds are configurable', () => {
    const s = { ...healthy(), queueLength: 200, deadLetters: 3 };
    assert.deepEqual(
      evaluateHealth(s).issues.map((i) => i.rule),
      ['dead_letters'],
    );
    const r = evaluateHealth(s, { maxQueueLength: 199, maxDeadLetters: 3 });
    assert.deepEqual(
      r.issues.map((i) => [i.rule, i.value, i.threshold]),
      [['queue_backlog', 200, 199]],
    );
    assert.equal(r.status, 'critical');
  });

  it('a worker is live up to workerStaleAfterMs inclusive', () => {
    const at = { ...healthy(), workers: [{ name: 'a', heartbeatAgeMs: 30_000 }] };
    assert.deepEqual(evaluateHealth(at).issues, []);
    const stale = { ...healthy(), workers: [{ name: 'a', heartbeatAgeMs: 30_001 }] };
    const [found] = evaluateHealth(stale).issues;
    assert.deepEqual([found?.rule, found?.value, found?.threshold], ['no_live_worker', 0, 1]);
    assert.equal(evaluateHealth(stale, { workerStaleAfterMs: 60_000 }).status, 'healthy');
  });

  it('one live worker among stale ones is enough; minLiveWorkers raises the bar', () => {
    const s = {
      ...healthy(),
      workers: [
        { name: 'a', heartbeatAgeMs: 90_000 },
        { name: 'b', heartbeatAgeMs: 10 },
      ],
    };
    assert.equal(evaluateHealth(s).status, 'healthy');
    const r = evaluateHealth(s, { minLiveWorkers: 2 });
    assert.deepEqual(
      r.issues.map((i) => [i.rule, i.value, i.threshold]),
      [['no_live_worker', 1, 2]],
    );
  });

  it('redisReachable null (embedded mode, no Redis) is not a finding', () => {
    assert.equal(evaluateHealth({ ...healthy(), redisReachable: null }).status, 'healthy');
    const r = evaluateHealth({ ...healthy(), redisReachable: false });
    assert.deepEqual(
      r.issues.map((i) => [i.rule, i.value, i.threshold]),
      [['redis_unreachable', false, true]],
    );
  });
});
