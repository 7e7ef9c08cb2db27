/**
 * `createAuditLogger()`: the library entry point. Creation is synchronous and opens
 * nothing until the first `log()`; with no options it reads the same environment as the
 * CLI (REDIS_URL, DATABASE_URL, AUDITLINE_*).
 */
import { type ConfigOverrides, loadConfig } from './config.js';
import type { AuditEventInput, LogResult } from './core/event.js';
import type { AuditLogger } from './logger-types.js';
import { Producer, type ProducerStats } from './producer.js';
import { createQueue } from './queue/index.js';
import { createRuntime } from './runtime.js';
import { openSpillJournal } from './spill.js';
import { createStore } from './store/index.js';

/**
 * Options of {@link createAuditLogger}: any configuration option (see `AuditlineConfig`);
 * each overrides the corresponding environment variable.
 */
export type AuditLoggerOptions = ConfigOverrides;

/** A logger as returned by {@link createAuditLogger}. */
export interface AuditLoggerHandle extends AuditLogger {
  /** Counters by category and outcome since creation. */
  stats(): Promise<ProducerStats>;
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
  const ready: Promise<{ producer: Producer; close: () => Promise<void> }> = (async () => {
    if (config.mode === 'embedded') {
      const runtime = await createRuntime(config, { worker: true });
      return { producer: runtime.logger, close: () => runtime.close() };
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
    return { producer, close: () => producer.close() };
  })();
  // Surface initialisation errors through log()/close(), not as an unhandled rejection.
  ready.catch(() => {});
  let closed = false;
  return {
    async log(event: AuditEventInput): Promise<LogResult> {
      return (await ready).producer.log(event);
    },
    async logMany(events: readonly unknown[]): Promise<LogResult[]> {
      return (await ready).producer.logMany(events);
    },
    async stats() {
      return (await ready).producer.stats();
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
