/**
 * The alert state machine. Per health rule: off → (finding appears) trigger → on →
 * (still on after `renotifyIntervalMs`) renotify → … → (finding gone) resolve → off.
 *
 * `update()` is pure with respect to I/O (state + injected clock only), so tests drive every
 * transition without timers. `start()` adds an unref'd periodic evaluator guarded by a lease.
 */
import { hostname } from 'node:os';
import { ConfigError } from '../core/errors.js';
import type { HealthIssue, HealthReport, HealthRuleId } from '../core/health.js';
import { DEFAULT_DELIVERY, type DeliveryOptions, type DeliveryResult, deliver } from './deliver.js';
import type { AlertLease } from './lease.js';
import type { AlertNotification, AlertSink } from './types.js';

/** Options of {@link AlertManager}; every field has a default. */
export interface AlertManagerOptions {
  /** Where notifications go. Default none (state is still tracked, e.g. for `auditline stats`). */
  sinks: AlertSink[];
  /** Re-notify an alert that is still on after this long. Default 3,600,000 (1 h). */
  renotifyIntervalMs: number;
  /** Deployment name in messages and dedup keys (`auditline:<env>:<rule>`). Default `default`. */
  environment: string;
  /** Sender name in messages (PagerDuty `payload.source`). Default the host name. */
  source: string;
  /** Clock in epoch ms. Default `Date.now`. */
  now: () => number;
  /** Retry and timeout bounds for each sink request. Default {@link DEFAULT_DELIVERY}. */
  delivery: Partial<DeliveryOptions>;
  /** Produces the current health report for the periodic evaluator; required by `start()`. */
  collect: (() => Promise<HealthReport> | HealthReport) | null;
  /** Period of the evaluator started by `start()`. Default 30,000 ms. */
  intervalMs: number;
  /** Lease making this the only evaluating process. Default none (always evaluate). */
  lease: AlertLease | null;
  /** This process's lease holder id. Default `<host>-<pid>-<random>`. */
  holder: string;
  /** Lease TTL; must outlast one evaluation including deliveries. Default 3 × `intervalMs`. */
  leaseTtlMs: number | null;
  /** Receives errors that are swallowed so the caller never breaks. Default ignore. */
  onError: (err: unknown, context: string) => void;
}

/** One alert that is currently on. */
export interface ActiveAlert {
  rule: HealthRuleId;
  /** The latest finding for the rule. */
  issue: HealthIssue;
  startedAtMs: number;
  lastNotifiedAtMs: number;
  /** Notifications sent for it so far (trigger + re-notifies). */
  notifications: number;
}

/** Delivery counters of one sink since the manager was created. */
export interface SinkStats {
  /** Notifications accepted by the receiver. */
  delivered: number;
  /** Notifications given up on after the last retry (or on a permanent 4xx). */
  failed: number;
  /** Extra requests made by retries. */
  retries: number;
  /** Error of the most recent failure, if any. */
  lastError: string | null;
}

/** What one sink did with one notification. */
export interface DispatchRecord {
  sink: string;
  notification: AlertNotification;
  result: DeliveryResult;
}

/** Result of one periodic evaluation. */
export interface EvaluationResult {
  /** False when another process holds the lease (nothing was evaluated). */
  evaluated: boolean;
  notifications: AlertNotification[];
  dispatched: DispatchRecord[];
}

/** Fires, re-notifies and resolves alerts from health findings, and sends them to sinks. */
export class AlertManager {
  readonly #opts: AlertManagerOptions;
  readonly #active = new Map<HealthRuleId, ActiveAlert>();
  readonly #stats = new Map<string, SinkStats>();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #held = false;

  /** Creates a manager; does no I/O and starts no timer. */
  constructor(options: Partial<AlertManagerOptions> = {}) {
    this.#opts = {
      sinks: [],
      renotifyIntervalMs: 3_600_000,
      environment: 'default',
      source: hostname(),
      now: Date.now,
      delivery: DEFAULT_DELIVERY,
      collect: null,
      intervalMs: 30_000,
      lease: null,
      holder: `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      leaseTtlMs: null,
      onError: () => {},
      ...options,
    };
    const names = new Set<string>();
    for (const s of this.#opts.sinks) {
      if (names.has(s.name)) throw new ConfigError(`duplicate alert sink name "${s.name}"`);
      names.add(s.name);
      this.#stats.set(s.name, { delivered: 0, failed: 0, retries: 0, lastError: null });
    }
  }

  /**
   * Advances the state machine to the given findings and returns the notifications due, in
   * order: resolves first, then triggers and re-notifies. Sends nothing.
   */
  update(issues: readonly HealthIssue[], nowMs: number = this.#opts.now()): AlertNotification[] {
    const out: AlertNotification[] = [];
    const current = new Map<HealthRuleId, HealthIssue>();
    for (const i of issues) current.set(i.rule, i);

    for (const [rule, alert] of this.#active) {
      if (current.has(rule)) continue;
      this.#active.delete(rule);
      out.push(this.#notification('resolve', alert.issue, alert.startedAtMs, nowMs));
    }
    for (const [rule, issue] of current) {
      const alert = this.#active.get(rule);
      if (!alert) {
        this.#active.set(rule, {
          rule,
          issue,
          startedAtMs: nowMs,
          lastNotifiedAtMs: nowMs,
          notifications: 1,
        });
        out.push(this.#notification('trigger', issue, nowMs, nowMs));
        continue;
      }
      alert.issue = issue;
      if (nowMs - alert.lastNotifiedAtMs >= this.#opts.renotifyIntervalMs) {
        alert.lastNotifiedAtMs = nowMs;
        alert.notifications++;
        out.push(this.#notification('renotify', issue, alert.startedAtMs, nowMs));
      }
    }
    return out;
  }

  /**
   * Sends notifications to every sink. Sinks run in parallel; each sink receives its
   * notifications in order (a resolve never overtakes its trigger). Never rejects.
   */
  async dispatch(notifications: readonly AlertNotification[]): Promise<DispatchRecord[]> {
    if (notifications.length === 0) return [];
    const perSink = await Promise.all(
      this.#opts.sinks.map(async (sink) => {
        const records: DispatchRecord[] = [];
        for (const n of notifications)
          records.push({ sink: sink.name, notification: n, result: await this.#send(sink, n) });
        return records;
      }),
    );
    return perSink.flat();
  }

  /** `update()` then `dispatch()`: one evaluation step for already-computed findings. */
  async process(issues: readonly HealthIssue[]): Promise<DispatchRecord[]> {
    return this.dispatch(this.update(issues));
  }

  /**
   * One periodic evaluation: take or renew the lease, collect health, process it. If the
   * lease store fails (Redis down), evaluates anyway: a duplicate alert beats a silent
   * outage, and "Redis unreachable" must still reach someone. Never rejects.
   */
  async evaluateOnce(): Promise<EvaluationResult> {
    const { lease, holder, collect } = this.#opts;
    const none: EvaluationResult = { evaluated: false, notifications: [], dispatched: [] };
    if (lease) {
      let leader = true;
      try {
        leader = await lease.tryAcquire(holder, this.#leaseTtlMs());
      } catch (err) {
        this.#opts.onError(err, 'alert lease');
      }
      if (!leader) {
        // Another process owns alerting now; our view of what is "on" is stale and must not
        // produce resolves or skip triggers if we take over later.
        if (this.#held) this.#active.clear();
        this.#held = false;
        return none;
      }
      this.#held = true;
    }
    if (!collect) return none;
    let report: HealthReport;
    try {
      report = await collect();
    } catch (err) {
      this.#opts.onError(err, 'collect health');
      return none;
    }
    const notifications = this.update(report.issues);
    return { evaluated: true, notifications, dispatched: await this.dispatch(notifications) };
  }

  /** Starts the periodic evaluator (first run immediately). Its timer does not keep the process alive. */
  start(): void {
    if (!this.#opts.collect) throw new ConfigError('AlertManager.start() needs a collect() function');
    if (this.#timer) return;
    const tick = () => {
      this.#running = this.evaluateOnce().finally(() => {
        this.#running = null;
        // A timeout chain rather than setInterval: a slow evaluation never overlaps the next.
        if (this.#timer) this.#timer = setTimeout(tick, this.#opts.intervalMs).unref();
      });
    };
    this.#timer = setTimeout(tick, 0).unref();
  }

  /** Stops the evaluator, waits for a running evaluation, and releases the lease. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    if (this.#opts.lease && this.#held) {
      this.#held = false;
      try {
        await this.#opts.lease.release(this.#opts.holder);
      } catch (err) {
        this.#opts.onError(err, 'alert lease release');
      }
    }
  }

  /** Alerts currently on, oldest first. */
  active(): ActiveAlert[] {
    return [...this.#active.values()].map((a) => ({ ...a })).sort((a, b) => a.startedAtMs - b.startedAtMs);
  }

  /** Delivery counters per sink name. */
  stats(): Record<string, SinkStats> {
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, { ...v }]));
  }

  #leaseTtlMs(): number {
    return this.#opts.leaseTtlMs ?? 3 * this.#opts.intervalMs;
  }

  #notification(
    action: AlertNotification['action'],
    issue: HealthIssue,
    startedAtMs: number,
    atMs: number,
  ): AlertNotification {
    const { environment, source } = this.#opts;
    return {
      action,
      rule: issue.rule,
      severity: issue.severity,
      issue,
      environment,
      source,
      startedAtMs,
      atMs,
    };
  }

  async #send(sink: AlertSink, n: AlertNotification): Promise<DeliveryResult> {
    const stats = this.#stats.get(sink.name)!;
    let result: DeliveryResult;
    try {
      const req = sink.request(n);
      if (!req) return { ok: true, attempts: 0 };
      result = await deliver(req, this.#opts.delivery);
    } catch (err) {
      // deliver() does not throw; this catches a faulty custom sink's request().
      result = { ok: false, attempts: 0, error: err instanceof Error ? err.message : String(err) };
    }
    stats.retries += Math.max(0, result.attempts - 1);
    if (result.ok) stats.delivered++;
    else {
      stats.failed++;
      stats.lastError = result.error ?? null;
      this.#opts.onError(new Error(`alert sink ${sink.name}: ${result.error}`), 'alert delivery');
    }
    return result;
  }
}
