/**
 * Metrics of one process and of the whole deployment: {@link ProcessMetrics} bundles what
 * a process needs (recorder, publisher, reader, optional alerting) over the metrics store
 * its mode calls for: Redis in distributed mode, memory in embedded mode.
 */
import { hostname } from 'node:os';
import { MemoryAlertLease, RedisAlertLease } from '../alerts/lease.js';
import type { AuditlineConfig } from '../config.js';
import type { QueueAdapter } from '../queue/port.js';
import type { WorkerStats } from '../worker/worker.js';
import { AlertLoop, alertSinks } from './alerting.js';
import { MetricsPublisher } from './publisher.js';
import { type LocalReading, MetricsReader } from './reader.js';
import { MetricsRecorder, type ProducerSource } from './recorder.js';
import { MemoryMetricsStore, RedisMetricsStore } from './stores.js';
import type { MetricsStore, ProcessRole } from './types.js';

export { AlertLoop, alertSinks } from './alerting.js';
export { renderPrometheus } from './prometheus.js';
export { MetricsPublisher, SNAPSHOT_TTL_INTERVALS } from './publisher.js';
export {
  type AggregatedMetrics,
  type AuditMetricsResponse,
  type JournalView,
  type LocalReading,
  MetricsReader,
  type MetricsReaderDeps,
  type MetricsReading,
  type ProcessView,
} from './reader.js';
export { MetricsRecorder, type ProducerSource, type RecorderSources } from './recorder.js';
export { MemoryMetricsStore, RedisMetricsStore } from './stores.js';
export * from './types.js';

/** Configuration {@link ProcessMetrics} reads. */
export type MetricsConfig = Pick<
  AuditlineConfig,
  | 'mode'
  | 'redisUrl'
  | 'keyPrefix'
  | 'consumerName'
  | 'metricsIntervalMs'
  | 'health'
  | 'alerts'
  | 'environment'
>;

/** What {@link ProcessMetrics} observes; the caller owns and closes these. */
export interface ProcessMetricsDeps {
  queue: QueueAdapter;
  /** The event store, for the PostgreSQL reachability rule. */
  database: { ping(): Promise<void> };
  /** Receives swallowed errors (publish failures, alert delivery failures). */
  onError?: (err: unknown, context: string) => void;
}

/** Options of {@link ProcessMetrics.start}. */
export interface StartMetricsOptions {
  role: ProcessRole;
  /** Unique process name. Default: the consumer name for workers, else `<role>-<host>-<pid>`. */
  name?: string;
  /** Run the alert evaluator when a sink is configured. Default true. */
  alerts?: boolean;
}

/**
 * One process's metrics. Creating it does no I/O and starts no timer (the Redis connection
 * is lazy); {@link start} begins publishing, {@link close} ends it.
 *
 * Until {@link start} is called, the {@link reader} still counts this process: its snapshot
 * and totals are taken at read time and added to what the store holds (a library logger
 * without `producerMetrics`, an embedded worker), so a process that does not publish still
 * sees itself. An observer with nothing attached (`auditline stats`) adds nothing.
 */

export class ProcessMetrics {
  readonly store: MetricsStore;
  readonly recorder: MetricsRecorder;
  /** Aggregates the whole deployment (every process publishing to the same store). */
  readonly reader: MetricsReader;
  private publisher: MetricsPublisher | null = null;
  private alerting: AlertLoop | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly config: Readonly<MetricsConfig>,
    private readonly deps: ProcessMetricsDeps,
  ) {
    this.store = config.redisUrl
      ? new RedisMetricsStore({ url: config.redisUrl, keyPrefix: config.keyPrefix })
      : new MemoryMetricsStore();
    this.recorder = new MetricsRecorder({ role: 'producer', name: '' });
    this.reader = new MetricsReader({
      store: this.store,
      queue: deps.queue,
      database: deps.database,
      mode: config.mode,
      thresholds: config.health,
      local: () => this.localReading(),
    });
  }

  /** Counts this worker's totals in the snapshot. */
  attachWorker(worker: { readonly stats: WorkerStats }): void {
    this.recorder.sources.worker = worker;
  }

  /** Counts this producer's outcomes and journal backlog in the snapshot. */
  attachProducer(producer: ProducerSource): void {
    this.recorder.sources.producer = producer;
  }

  /** The alert loop, when alerting runs in this process. */
  get alerts(): AlertLoop | null {
    return this.alerting;
  }

  /** Starts the heartbeat (and alerting, when a sink is configured). Call once. */
  start(options: StartMetricsOptions): void {
    if (this.publisher || this.closing) return;
    const { role } = options;
    this.recorder.identity = { role, name: options.name ?? this.defaultName(role) };
    this.publisher = new MetricsPublisher({
      store: this.store,
      recorder: this.recorder,
      intervalMs: this.config.metricsIntervalMs,
      ...(this.deps.onError ? { onError: this.deps.onError } : {}),
    });
    this.publisher.start();
    const sinks = alertSinks(this.config.alerts);
    if ((options.alerts ?? true) && sinks.length > 0) {
      const lease =
        this.store instanceof RedisMetricsStore
          ? new RedisAlertLease(this.store.redis, `${this.config.keyPrefix}:alerts:lease`)
          : new MemoryAlertLease();
      this.alerting = new AlertLoop({
        alerts: this.config.alerts,
        environment: this.config.environment,
        reader: this.reader,
        store: this.store,
        lease,
        sinks,
        ...(this.deps.onError ? { onError: this.deps.onError } : {}),
      });
      this.alerting.start();
    }
  }

  private defaultName(role: ProcessRole): string {
    return role === 'worker' ? this.config.consumerName : `${role}-${hostname()}-${process.pid}`;
  }

  /** This process's own reading when it does not publish (see the class comment). */
  private async localReading(): Promise<LocalReading | null> {
    if (this.publisher) return null; // publishing: the store holds this process already
    const { worker, producer } = this.recorder.sources;
    if (!worker && !producer) return null;
    const role: ProcessRole = worker ? 'worker' : 'producer';
    this.recorder.identity = { role, name: this.defaultName(role) };
    const snapshot = await this.recorder.collect();
    return { snapshot, totals: this.recorder.totals(snapshot) };
  }

  /**
   * Stops alerting (releasing the lease), publishes the final counters, removes this
   * process's snapshot and closes the metrics store. Call after the worker has stopped so
   * its last batches are counted. Never rejects.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.alerting?.stop();
      await this.publisher?.stop();
      await this.store.close().catch(() => {});
    })();
    return this.closing;
  }
}
