/**
 * `createAuditLogger()`: the library entry point. Creation is synchronous and opens
 * nothing until the first `log()`; with no options it reads the same environment as the
 * CLI (REDIS_URL, DATABASE_URL, AUDITLINE_*).
 */
import { type ConfigOverrides, loadConfig } from './config.js';
import type { AuditEventInput, LogResult } from './core/event.js';
import type { AuditLogger } from './logger-types.js';
import { type AuditMetricsResponse, ProcessMetrics } from './metrics/index.js';
import { Producer, type ProducerStats } from './producer.js';
import { createQueue } from './queue/index.js';
import { createRuntime } from './runtime.js';
import { openSpillJournal } from './spill.js';
import { createStore } from './store/index.js';
import type { StoreAdapter } from './store/port.js';

/**
 * Options of {@link createAuditLogger}: any configuration option (see `AuditlineConfig`);
 * each overrides the corresponding environment variable. `producerMetrics: true` (or
 * `AUDITLINE_PRODUCER_METRICS=true`) makes the logger publish its own metrics.
 */
export type AuditLoggerOptions = ConfigOverrides;

/** A logger as returned by {@link createAuditLogger}. */
export interface AuditLoggerHandle extends AuditLogger {
  /** Counters by category and outcome since creation. */
  stats(): Promise<ProducerStats>;
  /**
   * The deployment's metrics and health in the shape of `GET /api/monitoring/audit-metrics`
   * (what `monitoringRouter` serves): every process that publishes to the same Redis
   * prefix (distributed) or this process's worker (embedded), plus this logger itself.
   * Reads Redis, the queue and the database on each call (it opens one database
   * connection on first use in distributed mode); dependency failures show in `health`.
   */
  metrics(): Promise<AuditMetricsResponse>;
}

/**
 * Creates a logger.
 *
 * - Distributed mode (`REDIS_URL` and `DATABASE_URL`): events go to the Redis stream;
 *   workers (`auditline worker`) write them to PostgreSQL.
 * - Embedded mode (neither set): an in-process queue and PGlite under `AUDITLINE_DATA_DIR`,
 *   drained by a worker running inside this process.
 *
 * @throws ConfigError synchronously when the configuration is invalid.
 * @example
 * ```ts
 * const audit = createAuditLogger();
 * const { id, outcome } = await audit.log({ event_type: 'document.update', user_id: 'u1' });
 * await audit.close();
 * ```
 */
export function createAuditLogger(options: AuditLoggerOptions = {}): AuditLoggerHandle {
  const config = loadConfig(options);
  const ready: Promise<{ producer: Producer; metrics: ProcessMetrics; close: () => Promise<void> }> =
    (async () => {
      if (config.mode === 'embedded') {
        const runtime = await createRuntime(config, {
          worker: true,
          // Alerting stays with `serve` and `worker`; a library logger only reports.
          ...(config.producerMetrics ? { metrics: { role: 'producer' as const, alerts: false } } : {}),
        });
        return { producer: runtime.logger, metrics: runtime.metrics, close: () => runtime.close() };
      }
      const queue = await createQueue(config);
      // Redis may be down right now: that is what the journal is for, so init errors are not fatal.
      await queue.init().catch(() => {});
      const journal = await openSpillJournal(config);
      const producer = new Producer({
        config,
        queue,
        journal,
        // Producers rarely write directly; open one small pool only when they must.
        directStore: async () => createStore({ ...config, pgPoolSize: 1 }),
        onClose: () => queue.close(),
      });
      await producer.resumeSpilled();
      // The reader pings the database for health: open a one-connection store on first use.
      let database: StoreAdapter | null = null;
      const metrics = new ProcessMetrics(config, {
        queue,
        database: {
          ping: () => {
            database ??= createStore({ ...config, pgPoolSize: 1 });
            return database.ping();
          },
        },
      });
      metrics.attachProducer(producer);
      // Opt-in: without it the logger starts no timer of its own (metrics() still works).
      if (config.producerMetrics) metrics.start({ role: 'producer', alerts: false });
      return {
        producer,
        metrics,
        close: async () => {
          await producer.close();
          // After the producer: its last outcomes are in the final published counters.
          await metrics.close();
          await database?.close();
        },
      };
    })();
  // Surface initialisation errors through log()/close(), not as an unhandled rejection.
  ready.catch(() => {});
  let closed = false;
  // Once every call made during initialisation has reached the producer, log() calls it
  // directly: `await ready` cost a promise and microtask turns per event. Calls still
  // waiting keep later ones behind them, so events reach the producer in call order.
  let producer: Producer | null = null;
  let waiting = 0;
  return {
    log(event: AuditEventInput): Promise<LogResult> {
      if (producer !== null) return producer.log(event);
      waiting++;
      return ready.then(
        (r) => {
          if (--waiting === 0) producer = r.producer;
          return r.producer.log(event);
        },
        (err: unknown) => {
          waiting--;
          throw err;
        },
      );
    },
    async logMany(events: readonly unknown[]): Promise<LogResult[]> {
      return (await ready).producer.logMany(events);
    },
    async stats() {
      return (await ready).producer.stats();
    },
    async metrics() {
      return (await ready).metrics.reader.auditMetrics();
    },
    async close() {
      if (closed) return;
      closed = true;
      await (await ready).close();
    },
  };
}

let defaultLogger: AuditLoggerHandle | null = null;

/**
 * The seed's one-call form: logs through a process-wide logger configured from the
 * environment, created on first use. Call {@link closeDefaultLogger} on shutdown to flush.
 */
export function logAudit(event: AuditEventInput): Promise<LogResult> {
  defaultLogger ??= createAuditLogger();
  return defaultLogger.log(event);
}

/** Flushes and closes the logger behind {@link logAudit}. */
export async function closeDefaultLogger(): Promise<void> {
  const l = defaultLogger;
  defaultLogger = null;
  await l?.close();
}
