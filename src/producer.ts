/**
 * The producer side of a logger: validation, hashing, and coalescing of concurrent `log()`
 * calls into one queue round trip. The request path pays for validation and a SHA-256 (a
 * few microseconds); everything logged in the same event-loop turn shares one Lua call.
 */
import type { AuditlineConfig } from './config.js';
import { sealEvent } from './core/canonical.js';
import { AuditError, BatchValidationError, ErrorCodes, EventValidationError, type FieldIssue } from './core/errors.js';
import type { AuditEvent, AuditEventInput, LogOutcome, LogResult, UnhashedEvent } from './core/event.js';
import { newEventId } from './core/ids.js';
import { validateEvent } from './core/validate.js';
import type { AuditLogger } from './logger-types.js';
import type { QueueAdapter } from './queue/port.js';
import type { StoreAdapter } from './store/port.js';

/** The part of a store a producer needs for direct writes. */
export type DirectStore = Pick<StoreAdapter, 'append' | 'close'>;

/** What to do with an event of a category when the queue is at its cap. */
export type OverflowPolicy = 'direct' | 'drop';

/** Counters a producer keeps; read them with `logger.stats()`. */
export interface ProducerStats {
  /** By category, then outcome. */
  events: Record<string, Partial<Record<LogOutcome, number>>>;
  rejected: number;
  enqueueErrors: number;
}

export interface ProducerOptions {
  config: Pick<AuditlineConfig, 'validation'>;
  queue: QueueAdapter;
  /** Opens the store used for direct writes; called at most once, on first need. */
  directStore: () => Promise<DirectStore>;
  /** Overflow policy by category; categories not listed use `defaultPolicy`. */
  overflow?: Record<string, OverflowPolicy>;
  defaultPolicy?: OverflowPolicy;
  /** Events sent in one queue call, at most. */
  maxEnqueueBatch?: number;
  /** Releases what the producer's owner opened (called by close()). */
  onClose?: () => Promise<void>;
}

interface Pending {
  event: AuditEvent;
  payload: string;
  resolve: (r: LogResult) => void;
  reject: (e: unknown) => void;
}

/** A logger that validates, hashes and enqueues. Created by `createAuditLogger`. */
export class Producer implements AuditLogger {
  /** Identifies this logger instance in every event it stamps (completeness checks). */
  readonly producerId = newEventId();
  private seq = 0;
  private pending: Pending[] = [];
  private scheduled = false;
  private closed = false;
  private readonly inflight = new Set<Promise<void>>();
  private store: Promise<DirectStore> | null = null;
  private readonly counters: ProducerStats = { events: {}, rejected: 0, enqueueErrors: 0 };

  constructor(private readonly opts: ProducerOptions) {}

  log(input: AuditEventInput): Promise<LogResult> {
    if (this.closed) return Promise.reject(new AuditError(ErrorCodes.CLOSED, 'audit logger is closed'));
    let event: AuditEvent;
    try {
      event = this.prepare(validateEvent(input, this.opts.config.validation));
    } catch (err) {
      this.counters.rejected++;
      return Promise.reject(err);
    }
    return this.submit(event);
  }

  async logMany(inputs: readonly unknown[]): Promise<LogResult[]> {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'audit logger is closed');
    const valid: UnhashedEvent[] = [];
    const invalid: { index: number; issues: FieldIssue[] }[] = [];
    const now = Date.now();
    inputs.forEach((input, index) => {
      try {
        valid.push(validateEvent(input, this.opts.config.validation, now));
      } catch (err) {
        if (!(err instanceof EventValidationError)) throw err;
        invalid.push({ index, issues: err.issues });
      }
    });
    if (invalid.length > 0) {
      this.counters.rejected += inputs.length;
      throw new BatchValidationError(invalid);
    }
    return Promise.all(valid.map((e) => this.submit(this.prepare(e))));
  }

  /** Counters since this logger was created. */
  stats(): ProducerStats {
    return structuredClone(this.counters);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flushNow();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    if (this.store) await (await this.store.catch(() => null))?.close();
    await this.opts.onClose?.();
  }

  private prepare(e: UnhashedEvent): AuditEvent {
    e.producer_id = this.producerId;
    e.producer_seq = ++this.seq;
    return sealEvent(e);
  }

  private submit(event: AuditEvent): Promise<LogResult> {
    return new Promise<LogResult>((resolve, reject) => {
      this.pending.push({ event, payload: JSON.stringify(event), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate (not a microtask) so that calls made by other I/O callbacks of the
        // same loop turn join the batch too.
        setImmediate(() => this.flushNow());
      }
    });
  }

  private flushNow(): void {
    this.scheduled = false;
    const max = this.opts.maxEnqueueBatch ?? 1000;
    while (this.pending.length > 0) {
      const chunk = this.pending.splice(0, max);
      const p = this.send(chunk).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private async send(chunk: Pending[]): Promise<void> {
    let statuses: ('queued' | 'full')[];
    try {
      statuses = await this.opts.queue.enqueue(chunk.map((p) => p.payload));
    } catch (err) {
      this.counters.enqueueErrors++;
      const error = new AuditError(ErrorCodes.QUEUE_UNAVAILABLE, 'the queue is unreachable', { cause: err });
      for (const p of chunk) p.reject(error);
      return;
    }
    const direct: Pending[] = [];
    chunk.forEach((p, i) => {
      if (statuses[i] === 'queued') return this.settle(p, 'queued');
      const policy = this.opts.overflow?.[p.event.event_category] ?? this.opts.defaultPolicy ?? 'drop';
      if (policy === 'direct') direct.push(p);
      else this.settle(p, 'dropped');
    });
    if (direct.length > 0) await this.writeDirect(direct);
  }

  /** Writes straight to the store on the logger's own connection (never the caller's transaction). */
  private async writeDirect(items: Pending[]): Promise<void> {
    try {
      this.store ??= this.opts.directStore().catch((err: unknown) => {
        this.store = null; // try to open it again next time
        throw err;
      });
      await (await this.store).append(items.map((p) => p.event));
      for (const p of items) this.settle(p, 'direct');
    } catch (err) {
      const error = new AuditError(ErrorCodes.STORE_UNAVAILABLE, 'direct write to the store failed', { cause: err });
      for (const p of items) p.reject(error);
    }
  }

  private settle(p: Pending, outcome: LogOutcome): void {
    const byCategory = (this.counters.events[p.event.event_category] ??= {});
    byCategory[outcome] = (byCategory[outcome] ?? 0) + 1;
    p.resolve({ id: p.event.id, hash: p.event.hash, outcome });
  }
}
