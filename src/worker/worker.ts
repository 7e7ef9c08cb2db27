/**
 * The worker: drains the queue into the store.
 *
 * Loop: read up to the adaptive batch size, keep reading until the batch is full or the
 * oldest entry has waited `batchMaxWaitMs`, then flush. Flushes run concurrently with the
 * next read (up to `maxConcurrentFlushes`), so the queue round trip overlaps the database
 * write. Entries are acknowledged (and removed) only after their rows are committed; a
 * worker that dies mid-batch leaves them pending, and a live worker reclaims them after
 * `visibilityTimeoutMs`. Redelivery is harmless: the store inserts each event id once.
 */
import type { AuditlineConfig } from '../config.js';
import type { AuditEvent } from '../core/event.js';
import type { QueueAdapter, QueueEntry } from '../queue/port.js';
import type { StoreAdapter } from '../store/port.js';
import { BatchSizer } from './batch-size.js';
import { backoffMs, classifyError } from './classify.js';

/** What a worker reports after each committed flush (for metrics). */
export interface FlushReport {
  events: number;
  inserted: number;
  duplicates: number;
  elapsedMs: number;
  /** Milliseconds from the oldest event's created_at to commit. */
  maxLagMs: number;
}

export interface WorkerStats {
  batches: number;
  inserted: number;
  duplicates: number;
  retries: number;
  reclaimed: number;
  deadLettered: number;
  lastFlushMs: number;
  batchSize: number;
}

export interface WorkerDeps {
  queue: QueueAdapter;
  store: StoreAdapter;
  config: Pick<
    AuditlineConfig,
    | 'batchMaxWaitMs'
    | 'batchMinSize'
    | 'batchMaxSize'
    | 'targetFlushMs'
    | 'visibilityTimeoutMs'
    | 'shutdownTimeoutMs'
    | 'consumerName'
  > & {
    maxDeliveries?: number;
    maxConcurrentFlushes?: number;
    /**
     * Drain the queue completely before stop() resolves. Set in embedded mode: its queue is
     * journal-backed and would be replayed on the next start anyway, but an embedded process
     * that stops should leave everything it accepted in the table, not on disk.
     */
    drainOnStop?: boolean;
  };
  /** Called after each committed flush. Must not throw. */
  onFlush?: (report: FlushReport) => void;
  /** Called for errors the worker handles (retries, dead letters). Must not throw. */
  onError?: (err: unknown, context: string) => void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long a partial batch waits for more entries before it is flushed. */
const LINGER_MS = 20;

/** Parsed queue entries: `events[i]` is the payload of `entries[i]` (two arrays, no object per event). */
interface Parsed {
  entries: QueueEntry[];
  events: AuditEvent[];
}

/** Length of `Date#toISOString()` text for years 0–9999, e.g. `2026-11-26T18:20:11.000Z`. */
const ISO_CHARS = 24;

/**
 * Epoch milliseconds of the earliest `created_at` among `events`, at most `now` (`now` when
 * there are none); values that do not parse are skipped (the lag metric must not become NaN).
 * Validation stores `created_at` as `Date#toISOString()` text, which sorts like the instants
 * it names, so the earliest is found by comparing strings and parsed once instead of parsing
 * every value; any other form falls back to parsing every value.
 */
export function oldestCreatedMs(events: readonly AuditEvent[], now: number): number {
  let min: string | null = null;
  for (const e of events) {
    const t: unknown = e.created_at;
    if (typeof t !== 'string' || t.length !== ISO_CHARS || t[10] !== 'T' || t[23] !== 'Z') {
      return oldestByParsing(events, now);
    }
    if (min === null || t < min) min = t;
  }
  if (min === null) return now;
  const ms = Date.parse(min);
  // Date.parse also takes day or hour overflows (`02-31`, `T24:00`), which name later instants
  // than their text sorts at: exact as long as the earliest text is itself canonical.
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== min) return oldestByParsing(events, now);
  return Math.min(ms, now);
}

function oldestByParsing(events: readonly AuditEvent[], now: number): number {
  let oldest = now;
  for (const e of events) {
    const ms = Date.parse(e.created_at);
    if (ms < oldest) oldest = ms; // false for NaN: a malformed value is skipped
  }
  return oldest;
}

export class Worker {
  private readonly sizer: BatchSizer;
  private readonly consumer: string;
  private readonly maxDeliveries: number;
  private readonly maxConcurrent: number;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private lastReclaimAt = 0;
  private lastDepthAt = 0;
  readonly stats: WorkerStats = {
    batches: 0,
    inserted: 0,
    duplicates: 0,
    retries: 0,
    reclaimed: 0,
    deadLettered: 0,
    lastFlushMs: 0,
    batchSize: 0,
  };

  constructor(private readonly deps: WorkerDeps) {
    const c = deps.config;
    this.sizer = new BatchSizer({
      minSize: c.batchMinSize,
      maxSize: c.batchMaxSize,
      targetFlushMs: c.targetFlushMs,
    });
    this.consumer = c.consumerName;
    this.maxDeliveries = c.maxDeliveries ?? 5;
    this.maxConcurrent = c.maxConcurrentFlushes ?? 2;
  }

  /** Starts the loop (idempotent). */
  start(): void {
    if (this.loopDone) return;
    this.stopping = false;
    this.loopDone = this.run();
  }

  /**
   * Stops reading, commits and acknowledges what it holds, and resolves. A flush that
   * cannot commit within `shutdownTimeoutMs` (database down) is abandoned unacknowledged;
   * its entries stay pending and another worker reclaims them.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.loopDone) return;
    if (this.deps.config.drainOnStop) return this.loopDone;
    const timeout = sleep(this.deps.config.shutdownTimeoutMs).then(() => 'timeout' as const);
    await Promise.race([this.loopDone, timeout]);
  }

  private async run(): Promise<void> {
    await this.deps.queue.init();
    for (;;) {
      if (this.stopping && !(await this.mustDrain())) break;
      try {
        await this.maybeReclaim();
        await this.maybeObserveDepth();
        const batch = await this.collect();
        if (batch.length === 0) continue;
        const flush = this.flush(batch).finally(() => this.inflight.delete(flush));
        this.inflight.add(flush);
        if (this.inflight.size >= this.maxConcurrent) await Promise.race(this.inflight);
      } catch (err) {
        // Queue unreachable: back off and try again; nothing is lost (entries stay in Redis).
        this.report(err, 'read');
        await sleep(backoffMs(3, 100, 2000));
      }
    }
    await Promise.all(this.inflight);
  }

  /** While stopping with drainOnStop: true as long as entries remain (in flight ones included). */
  private async mustDrain(): Promise<boolean> {
    if (!this.deps.config.drainOnStop) return false;
    await Promise.all(this.inflight);
    try {
      return (await this.deps.queue.depth()) > 0;
    } catch {
      return false;
    }
  }

  /** Reads until the batch is full, the queue runs dry, or its first entry has waited batchMaxWaitMs. */
  private async collect(): Promise<QueueEntry[]> {
    const limit = this.sizer.current();
    this.stats.batchSize = limit;
    const { batchMaxWaitMs } = this.deps.config;
    const blockMs = Math.min(batchMaxWaitMs, 1000);
    const batch = await this.deps.queue.read(this.consumer, limit, blockMs);
    if (batch.length === 0 || batch.length >= limit) return batch;
    // Keep collecting while entries keep coming; flush as soon as the queue has had nothing
    // more for LINGER_MS (or the batch is full, or the first entry has waited batchMaxWaitMs).
    // Waiting out the full batchMaxWaitMs for a batch that will not fill only keeps entries
    // pending, and pending entries count against the queue's cap (measured: at 2.5k/s per
    // worker, 1 s waits kept the stream at its cap and producers spilled).
    // Entries accumulate for LINGER_MS between reads instead of being read as they arrive:
    // with a blocking read per arrival, 4 workers at 10k events/s made thousands of reads a
    // second of one or two entries each and used 0.8 of the 2 cores (measured with top
    // during the seed scenario), which pushed log() p99 in the producers to ~5 ms.
    const deadline = Date.now() + batchMaxWaitMs;
    while (batch.length < limit && !this.stopping) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(left, LINGER_MS));
      if (this.stopping) break;
      const more = await this.deps.queue.read(this.consumer, limit - batch.length, 0);
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  }

  private async maybeReclaim(): Promise<void> {
    const { visibilityTimeoutMs } = this.deps.config;
    const now = Date.now();
    if (now - this.lastReclaimAt < visibilityTimeoutMs / 2) return;
    this.lastReclaimAt = now;
    const entries = await this.deps.queue.reclaim(this.consumer, visibilityTimeoutMs, this.sizer.current());
    if (entries.length === 0) return;
    this.stats.reclaimed += entries.length;
    const tooMany = entries.filter((e) => e.deliveries > this.maxDeliveries);
    if (tooMany.length > 0) {
      await this.deadLetter(tooMany, `delivered more than ${this.maxDeliveries} times`);
    }
    const rest = entries.filter((e) => e.deliveries <= this.maxDeliveries);
    if (rest.length > 0) await this.flush(rest);
  }

  private async maybeObserveDepth(): Promise<void> {
    const now = Date.now();
    if (now - this.lastDepthAt < 1000) return;
    this.lastDepthAt = now;
    this.sizer.observeBacklog(await this.deps.queue.depth());
  }

  /** Commits a batch (retrying, isolating poison events), then acknowledges it. */
  private async flush(entries: QueueEntry[]): Promise<void> {
    const started = performance.now();
    const parsed: Parsed = { entries: [], events: [] };
    const unparseable: QueueEntry[] = [];
    for (const entry of entries) {
      let event: AuditEvent;
      try {
        event = JSON.parse(entry.payload) as AuditEvent;
      } catch {
        unparseable.push(entry);
        continue;
      }
      parsed.entries.push(entry);
      parsed.events.push(event);
    }
    if (unparseable.length > 0) await this.deadLetter(unparseable, 'payload is not valid JSON');
    const committed = await this.commit(parsed);
    if (committed === null) return; // stopping while the store is down: leave entries pending
    const elapsedMs = performance.now() - started;
    this.stats.batches++;
    this.stats.lastFlushMs = elapsedMs;
    this.sizer.observeFlush(entries.length, this.stats.batchSize, elapsedMs);
    const now = Date.now();
    const maxLagMs = now - oldestCreatedMs(parsed.events, now);
    try {
      this.deps.onFlush?.({ ...committed, events: parsed.events.length, elapsedMs, maxLagMs });
    } catch {
      // metrics must never break the write path
    }
  }

  /**
   * Appends and acknowledges `items`. Transient failures are retried with backoff for as
   * long as it takes (until stop); a data error splits the batch in halves until the
   * offending events are isolated and dead-lettered, so the rest commit.
   * Returns null when it gave up because the worker is stopping.
   */
  private async commit(items: Parsed): Promise<{ inserted: number; duplicates: number } | null> {
    if (items.events.length === 0) return { inserted: 0, duplicates: 0 };
    let attempt = 0;
    let unknownFailures = 0;
    for (;;) {
      let result: { inserted: number; duplicates: number };
      try {
        result = await this.deps.store.append(items.events);
      } catch (err) {
        const kind = classifyError(err);
        this.report(err, `append (${kind}, ${items.events.length} events)`);
        if (kind === 'unknown') unknownFailures++;
        if (kind === 'data' || unknownFailures >= 3) return this.bisect(items, err);
        if (this.stopping && attempt >= 1 && !this.deps.config.drainOnStop) return null;
        this.stats.retries++;
        await sleep(backoffMs(attempt++));
        continue;
      }
      this.stats.inserted += result.inserted;
      this.stats.duplicates += result.duplicates;
      await this.ack(items.entries.map((e) => e.entryId));
      return result;
    }
  }

  private async bisect(
    items: Parsed,
    err: unknown,
  ): Promise<{ inserted: number; duplicates: number } | null> {
    const { entries, events } = items;
    if (entries.length === 1) {
      const message = err instanceof Error ? err.message : String(err);
      await this.deadLetter(entries, `store rejected the event: ${message}`);
      return { inserted: 0, duplicates: 0 };
    }
    const mid = Math.ceil(entries.length / 2);
    const left = await this.commit({ entries: entries.slice(0, mid), events: events.slice(0, mid) });
    if (left === null) return null;
    const right = await this.commit({ entries: entries.slice(mid), events: events.slice(mid) });
    if (right === null) return null;
    return { inserted: left.inserted + right.inserted, duplicates: left.duplicates + right.duplicates };
  }

  /** Acknowledges committed entries; retried, because an unacked entry is redelivered (harmless but wasteful). */
  private async ack(ids: string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.queue.ack(ids);
        return;
      } catch (err) {
        this.report(err, 'ack');
        if (this.stopping && attempt >= 2) return; // rows are committed; redelivery is deduplicated
        await sleep(backoffMs(attempt, 50, 2000));
      }
    }
  }

  private async deadLetter(entries: QueueEntry[], reason: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.queue.deadLetter(entries, reason);
        this.stats.deadLettered += entries.length;
        return;
      } catch (err) {
        this.report(err, 'dead-letter');
        if (this.stopping && attempt >= 2) return; // entries stay pending and are retried later
        await sleep(backoffMs(attempt, 50, 2000));
      }
    }
  }

  private report(err: unknown, context: string): void {
    try {
      this.deps.onError?.(err, context);
    } catch {
      // reporting must never break the worker
    }
  }
}
