/**
 * The queue port in process memory (one process, no Redis). It keeps
 * the Redis Streams adapter's semantics so that the worker cannot tell them apart: a hard
 * cap on unread + pending entries, pending entries with delivery counts and delivery
 * times, reclaim by idle time, ack that removes, and a dead-letter list.
 */
import { performance } from 'node:perf_hooks';
import { AuditError, ErrorCodes } from '../../core/errors.js';
import type { DeadLetter, EnqueueStatus, QueueAdapter, QueueEntry, QueueInspection } from '../port.js';

/** Options of {@link MemoryQueue}. */
export interface MemoryQueueOptions {
  /** Cap on entries held (unread + delivered and unacknowledged). */
  maxLength: number;
}

/** An entry handed to {@link MemoryQueue.admit}. */
export interface AdmittedEntry {
  entryId: string;
  payload: string;
  /** Epoch ms the entry was first enqueued (kept across a restart); default now. */
  enqueuedAtMs?: number;
}

interface Slot {
  id: string;
  payload: string;
  /** 0 until first delivered. */
  deliveries: number;
  /** `performance.now()` of the last delivery: idle time is measured from it. */
  deliveredAt: number;
  /** Epoch ms of the enqueue, for the oldest pending age (Redis reads it from the entry id). */
  enqueuedAtMs: number;
}

interface Waiter {
  max: number;
  resolve: (entries: QueueEntry[]) => void;
  timer: NodeJS.Timeout;
}

// The unread list is an array consumed from `head`; it is compacted once this many
// consumed slots accumulate, so reads stay O(1) without shift()'s O(n) copies.
const COMPACT_AT = 1024;
// setTimeout fires at once (with a warning) for delays above 2^31 - 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * {@link QueueAdapter} held in memory only: entries and dead letters (unbounded, until
 * removed) do not survive the process. Embedded mode does not use it directly: it uses
 * `DurableMemoryQueue`, which journals each entry to disk and delegates delivery to this
 * class. Use it where nothing needs to survive (tests, benchmarks of the worker alone).
 */
export class MemoryQueue implements QueueAdapter {
  private readonly maxLength: number;
  /** Every entry in the queue, unread or pending, in enqueue order (Map keeps insertion order). */
  private readonly live = new Map<string, Slot>();
  /** Delivered, unacknowledged entries, in first-delivery order (= enqueue order). */
  private readonly pending = new Map<string, Slot>();
  /** Ids never delivered, oldest first, from `head`; may hold ids already acked or dead-lettered. */
  private unread: string[] = [];
  private head = 0;
  private waiters: Waiter[] = [];
  private readonly dead: DeadLetter[] = [];
  private seq = 0;
  private deadSeq = 0;
  private closed = false;

  constructor(options: MemoryQueueOptions) {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
    }
    this.maxLength = options.maxLength;
  }

  async init(): Promise<void> {
    this.assertOpen();
  }

  async enqueue(payloads: readonly string[]): Promise<EnqueueStatus[]> {
    this.assertOpen();
    const out: EnqueueStatus[] = [];
    const admitted: AdmittedEntry[] = [];
    for (const payload of payloads) {
      if (this.live.size + admitted.length >= this.maxLength) {
        out.push('full');
        continue;
      }
      admitted.push({ entryId: `m-${++this.seq}`, payload });
      out.push('queued');
    }
    this.admit(admitted);
    return out;
  }

  /**
   * Appends entries under ids chosen by the caller, without checking the cap. For an adapter
   * layered on this one that enforces the cap itself: the durable queue admits an entry only
   * once its journal append resolved, under the id its journal record carries. Ids must be
   * unique within the queue and must not look like this queue's own (`m-<n>`).
   */
  admit(entries: readonly AdmittedEntry[]): void {
    this.assertOpen();
    const now = Date.now();
    for (const e of entries) {
      this.live.set(e.entryId, {
        id: e.entryId,
        payload: e.payload,
        deliveries: 0,
        deliveredAt: 0,
        enqueuedAtMs: e.enqueuedAtMs ?? now,
      });
      this.unread.push(e.entryId);
    }
    if (entries.length > 0) this.wakeWaiters();
  }

  // Consumers are not tracked: one process, and reclaim goes by idle time alone.
  read(_consumer: string, max: number, blockMs: number): Promise<QueueEntry[]> {
    if (this.closed || max < 1) return Promise.resolve([]);
    const got = this.take(max);
    if (got.length > 0 || blockMs <= 0) return Promise.resolve(got);
    // Park until an enqueue hands us entries, the wait expires, or close() releases us.
    return new Promise((resolve) => {
      const waiter: Waiter = {
        max,
        resolve,
        timer: setTimeout(
          () => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            resolve([]);
          },
          Math.min(blockMs, MAX_TIMER_MS),
        ),
      };
      this.waiters.push(waiter);
    });
  }

  async reclaim(_consumer: string, minIdleMs: number, max: number): Promise<QueueEntry[]> {
    if (this.closed || max < 1) return [];
    const now = performance.now();
    const out: QueueEntry[] = [];
    for (const slot of this.pending.values()) {
      if (out.length >= max) break;
      if (now - slot.deliveredAt < minIdleMs) continue;
      slot.deliveries += 1;
      slot.deliveredAt = now;
      out.push({ entryId: slot.id, payload: slot.payload, deliveries: slot.deliveries });
    }
    return out;
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    this.assertOpen();
    for (const id of entryIds) this.remove(id);
  }

  async depth(): Promise<number> {
    this.assertOpen();
    return this.live.size;
  }

  async deadLetter(entries: readonly QueueEntry[], reason: string): Promise<void> {
    this.assertOpen();
    const firstSeenAt = new Date().toISOString();
    for (const e of entries) {
      const slot = this.live.get(e.entryId);
      // Already acknowledged (committed by whoever reclaimed it): never dead-letter it.
      if (!slot) continue;
      this.dead.push({
        deadId: `d-${++this.deadSeq}`,
        payload: slot.payload,
        reason,
        deliveries: e.deliveries,
        firstSeenAt,
      });
      this.remove(e.entryId);
    }
  }

  async listDeadLetters(max: number): Promise<DeadLetter[]> {
    this.assertOpen();
    return this.dead.slice(0, Math.max(0, max)).map((d) => ({ ...d }));
  }

  async removeDeadLetters(deadIds: readonly string[]): Promise<void> {
    this.assertOpen();
    const drop = new Set(deadIds);
    const keep = this.dead.filter((d) => !drop.has(d.deadId));
    this.dead.splice(0, this.dead.length, ...keep);
  }

  async ping(): Promise<void> {
    this.assertOpen();
  }

  /** Consumers are not tracked here, so `consumers` is always empty. */
  async inspect(): Promise<QueueInspection> {
    this.assertOpen();
    // `pending` keeps first-delivery order, which is enqueue order: the first is the oldest.
    const oldest = this.pending.values().next();
    return {
      depth: this.live.size,
      pending: this.pending.size,
      lag: this.live.size - this.pending.size,
      oldestPendingAgeMs: oldest.done ? null : Math.max(0, Date.now() - oldest.value.enqueuedAtMs),
      deadLetters: this.dead.length,
      consumers: [],
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve([]);
    }
  }

  /** Delivers up to `max` unread entries (deliveries = 1), oldest first. */
  private take(max: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    const now = performance.now();
    while (out.length < max && this.head < this.unread.length) {
      const id = this.unread[this.head++]!;
      const slot = this.live.get(id);
      if (!slot) continue; // acked or dead-lettered before anyone read it
      slot.deliveries = 1;
      slot.deliveredAt = now;
      this.pending.set(id, slot);
      out.push({ entryId: id, payload: slot.payload, deliveries: 1 });
    }
    if (this.head >= COMPACT_AT && this.head * 2 >= this.unread.length) {
      this.unread = this.unread.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Hands new entries to parked readers, first come first served. */
  private wakeWaiters(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      const got = this.take(w.max);
      if (got.length === 0) return;
      this.waiters.shift();
      clearTimeout(w.timer);
      w.resolve(got);
    }
  }

  private remove(id: string): void {
    this.live.delete(id);
    this.pending.delete(id);
  }

  private assertOpen(): void {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'queue is closed');
  }
}
