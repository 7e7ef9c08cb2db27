/**
 * Publishes one process's snapshot on a heartbeat. The timer is started explicitly
 * (`start()`), unref'd so it never keeps a process alive, and stopped by `stop()`, which
 * publishes the last counters and removes the snapshot.
 */
import { counterDeltas, type MetricsRecorder } from './recorder.js';
import type { CounterValues, MetricsStore } from './types.js';

/** A snapshot lives this many publish intervals: one or two late heartbeats are tolerated. */
export const SNAPSHOT_TTL_INTERVALS = 3;

/** Options of {@link MetricsPublisher}. */
export interface MetricsPublisherOptions {
  store: MetricsStore;
  recorder: MetricsRecorder;
  /** Heartbeat period. The snapshot expires after {@link SNAPSHOT_TTL_INTERVALS} of them. */
  intervalMs: number;
  /** Receives publish failures (Redis down); metrics never break the caller. */
  onError?: (err: unknown, context: string) => void;
}

/** Sends a recorder's snapshot and counter increments to a {@link MetricsStore}. */
export class MetricsPublisher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Totals already added to the shared counters; only the difference is sent each time. */
  private published: CounterValues = {};
  private stopped = false;

  constructor(private readonly opts: MetricsPublisherOptions) {}

  /** Publishes now, then every `intervalMs`. Idempotent. */
  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.running = this.publishNow().finally(() => {
        this.running = null;
        // A timeout chain, not setInterval: a slow Redis never stacks publishes up.
        if (this.timer) this.timer = setTimeout(tick, this.opts.intervalMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /**
   * One heartbeat: snapshot plus counter increments in one atomic write. The baseline only
   * advances on success, so increments that failed to send go with the next heartbeat.
   * Never rejects.
   */
  async publishNow(): Promise<void> {
    const { store, recorder, intervalMs } = this.opts;
    try {
      const snapshot = await recorder.collect();
      const totals = recorder.totals(snapshot);
      await store.publish(
        snapshot,
        counterDeltas(totals, this.published),
        SNAPSHOT_TTL_INTERVALS * intervalMs,
      );
      this.published = totals;
    } catch (err) {
      this.opts.onError?.(err, 'metrics publish');
    }
  }

  /**
   * Stops the heartbeat. With `retire` (default), sends the last increments and removes the
   * snapshot, so a graceful exit is visible at once; without it the snapshot is left to
   * expire, exactly as after a crash. Never rejects.
   */
  async stop({ retire = true }: { retire?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    if (!retire) return;
    const { store, recorder } = this.opts;
    try {
      const totals = recorder.totals();
      await store.retire(recorder.identity.name, counterDeltas(totals, this.published));
      this.published = totals;
    } catch (err) {
      this.opts.onError?.(err, 'metrics retire');
    }
  }
}
