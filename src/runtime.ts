/**
 * Wiring: builds the queue, the store and a logger from one configuration. Embedded mode
 * (no REDIS_URL/DATABASE_URL) uses the in-process queue and PGlite and runs a worker in the
 * same process; distributed mode uses Redis Streams and PostgreSQL.
 */
import type { AuditlineConfig } from './config.js';
import type { AuditLogger } from './logger-types.js';
import { ProcessMetrics, type ProcessRole } from './metrics/index.js';
import { Producer } from './producer.js';
import { createQueue } from './queue/index.js';
import type { QueueAdapter } from './queue/port.js';
import { openSpillJournal } from './spill.js';
import { createStore } from './store/index.js';
import type { StoreAdapter } from './store/port.js';
import { Worker, type WorkerDeps } from './worker/worker.js';

export interface Runtime {
  config: Readonly<AuditlineConfig>;
  queue: QueueAdapter;
  store: StoreAdapter;
  logger: AuditLogger & Producer;
  /** The in-process worker (embedded mode, or when asked for). */
  worker: Worker | null;
  /**
   * This process's metrics: recorder (hooked into the runtime's worker), publisher (started
   * only with `options.metrics`) and the deployment-wide reader behind the monitoring routes.
   */
  metrics: ProcessMetrics;
  /** Stops the worker (flushing), closes the logger, the queue and the store. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Run a worker in this process. Default: true in embedded mode, false otherwise. */
  worker?: boolean;
  /** Run migrations on start. Default: `config.autoMigrate`. */
  migrate?: boolean;
  /** Open the producer's spill journal (and replay what it holds). Default true; `auditline worker` passes false. */
  spill?: boolean;
  /** Worker hooks (metrics). */
  onFlush?: WorkerDeps['onFlush'];
  onError?: WorkerDeps['onError'];
  /**
   * Publish this process's metrics under `role` (`worker` whenever the runtime runs one), and
   * run alerting when a sink is configured (unless `alerts: false`). Default: off, so a
   * library runtime starts no timer.
   */
  metrics?: { role: ProcessRole; alerts?: boolean };
}

export async function createRuntime(
  config: Readonly<AuditlineConfig>,
  options: RuntimeOptions = {},
): Promise<Runtime> {
  // The queue before the store: in embedded mode its journal lock (<dataDir>/queue) is what
  // keeps a second process off the data directory, and PGlite, which has no lock of its
  // own, must not start on a directory another live process uses.
  const q = createQueue(config);
  try {
    await q.init();
  } catch (err) {
    await q.close().catch(() => {});
    throw err;
  }
  const store = createStore(config);
  try {
    if (options.migrate ?? config.autoMigrate) await store.migrate();
  } catch (err) {
    await q.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  // A worker-only process never logs, so it needs no spill journal (and must not hold a slot
  // that a restarted producer should find its leftovers in).
  const spill = options.spill ?? true;
  const journal = !spill
    ? null
    : await openSpillJournal(config).catch(async (err) => {
        await q.close().catch(() => {});
        await store.close().catch(() => {});
        throw err;
      });
  const logger = new Producer({
    config,
    queue: q,
    journal,
    // One process, one store: direct writes share the adapter (PGlite is single-connection;
    // a pg pool hands out a connection of its own, never the caller's transaction).
    directStore: async () => ({ append: (events) => store.append(events), close: async () => {} }),
    onError: options.onError,
  });
  await logger.resumeSpilled();
  const metrics = new ProcessMetrics(config, { queue: q, database: store });
  metrics.attachProducer(logger);
  const runWorker = options.worker ?? config.mode === 'embedded';
  const worker = runWorker
    ? new Worker({
        queue: q,
        store,
        config: { ...config, drainOnStop: config.mode === 'embedded' },
        onFlush: (report) => {
          metrics.recorder.onFlush(report);
          options.onFlush?.(report);
        },
        onError: (err, context) => {
          metrics.recorder.onError(err, context);
          options.onError?.(err, context);
        },
      })
    : null;
  worker?.start();
  if (worker) metrics.attachWorker(worker);
  if (options.metrics) {
    metrics.start({ role: worker ? 'worker' : options.metrics.role, alerts: options.metrics.alerts ?? true });
  }
  let closing: Promise<void> | null = null;
  return {
    config,
    queue: q,
    store,
    logger,
    worker,
    metrics,
    close() {
      closing ??= (async () => {
        await logger.close();
        await worker?.stop();
        // After the worker: its last batches are in the final published counters.
        await metrics.close();
        await q.close();
        await store.close();
      })();
      return closing;
    },
  };
}
