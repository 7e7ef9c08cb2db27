/**
 * The queue of embedded mode: the in-process queue's semantics, with every entry written to
 * a disk journal before `enqueue` resolves, so events accepted as `queued` survive a crash
 * of the process (SIGKILL, OOM, a thrown error that kills it) and are delivered again when
 * the data directory is next opened.
 *
 * Durability window: `enqueue` resolves after the journal append resolved, under the
 * journal's fsync policy (`journalFsync`). Against a process crash nothing that resolved is
 * ever lost, under any policy (the bytes are in the kernel's page cache). Against power loss
 * or a kernel crash: `always` loses nothing that resolved; `interval` (the default) can lose
 * what was accepted in the last fsync interval (100 ms) plus one fsync; `never` whatever the
 * OS had not flushed yet.
 *
 * Delivery is at-least-once: an entry is replayed after a restart unless its record was
 * acknowledged in the journal, which happens once it and every entry before it were
 * acknowledged or dead-lettered (see {@link AckWatermark}; under load the watermark moves in
 * steps of a few hundred entries, so a crash can redeliver up to that many committed ones).
 * Replayed entries are delivered with `deliveries` counted from 1 again; the store's
 * idempotent insert absorbs the rows committed before the crash but not yet checkpointed.
 *
 * One process at a time: the journal's lock file (`<dir>/journal.lock`) refuses a second
 * live process with `AUDIT_ERR_JOURNAL_LOCKED`. Embedded mode opens this queue before
 * PGlite, whose data directory has no lock of its own, so this lock also keeps a second
 * process away from the database.
 */
import { randomBytes } from 'node:crypto';
import { AuditError, ErrorCodes } from '../../core/errors.js';
import { type FsyncPolicy, Journal } from '../../journal/index.js';
import { type AdmittedEntry, MemoryQueue } from '../memory/memory-queue.js';
import type { DeadLetter, EnqueueStatus, QueueAdapter, QueueEntry, QueueInspection } from '../port.js';
import { DeadLetterFile } from './dead-letters.js';
import { AckWatermark, decodeEntry, encodeEntry } from './watermark.js';

/** Options of {@link DurableMemoryQueue}. */
export interface DurableMemoryQueueOptions {
  /** Directory of the queue's journal and dead-letter file; created if missing. */
  dir: string;
  /** Cap on entries held (unread + delivered and unacknowledged). */
  maxLength: number;
  /** When appends are fsync'd; see {@link FsyncPolicy}. Default `interval`. */
  fsync?: FsyncPolicy;
  /** Period of the background fsync under `interval`. Default 100 ms. */
  fsyncIntervalMs?: number;
  /**
   * Cap on the journal's bytes. Past it `enqueue` answers `full` (the producer then applies
   * its overflow policy). Default 1 GiB.
   */
  maxBytes?: number;
  /**
   * Background failures (journal checkpoint or read errors while acknowledging). They never
   * lose entries, only delay removing their records. Default: `process.emitWarning`.
   */
  onError?: (err: unknown) => void;
}

interface Opened {
  journal: Journal;
  memory: MemoryQueue;
  dead: DeadLetterFile;
  watermark: AckWatermark;
}

// Records read per batch while replaying at open.
const REPLAY_BATCH = 1000;

/**
 * {@link QueueAdapter} held in memory and journaled on disk. Opens its journal on `init()`
 * (or on first use), replaying what an earlier process left; dead letters persist in
 * `<dir>/dead-letters.json`.
 */
export class DurableMemoryQueue implements QueueAdapter {
  private readonly opts: DurableMemoryQueueOptions;
  /** Makes entry ids unique across the processes that share the journal over time. */
  private readonly generation = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  private seq = 0;
  private opening: Promise<Opened> | null = null;
  private state: Opened | null = null;
  private closed = false;

  constructor(options: DurableMemoryQueueOptions) {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
    }
    this.opts = options;
  }

  /** Directory of the journal. */
  get dir(): string {
    return this.opts.dir;
  }

  /**
   * Opens the journal (taking its lock) and replays the entries it holds into the queue.
   * Idempotent and safe to race.
   * @throws AuditError `AUDIT_ERR_JOURNAL_LOCKED` when another live process holds the directory.
   */
  async init(): Promise<void> {
    await this.open();
  }

  async enqueue(payloads: readonly string[]): Promise<EnqueueStatus[]> {
    // No await when already open: enqueue calls reach the journal in call order.
    const s = this.state ?? (await this.open());
    this.assertOpen();
    const out: EnqueueStatus[] = [];
    const accepted: AdmittedEntry[] = [];
    for (const payload of payloads) {
      // In-flight appends count, so concurrent callers cannot overshoot the cap together.
      if (s.watermark.heldCount + accepted.length >= this.opts.maxLength) {
        out.push('full');
        continue;
      }
      accepted.push({ entryId: `${this.generation}-${(++this.seq).toString(36)}`, payload });
      out.push('queued');
    }
    if (accepted.length === 0) return out;
    const ids = accepted.map((e) => e.entryId);
    s.watermark.begin(ids);
    let result: Awaited<ReturnType<Journal['append']>>;
    try {
      result = await s.journal.append(accepted.map((e) => encodeEntry(e.entryId, e.payload)));
    } catch (err) {
      s.watermark.failed(ids);
      throw err;
    }
    if (result.status === 'full') {
      // Journal at its byte cap or disk full: refuse like a full queue, so the producer's
      // overflow policy decides (spill, direct write, …).
      s.watermark.failed(ids);
      return out.map(() => 'full');
    }
    // Synchronously after the append resolved: `order` and delivery follow journal order.
    s.watermark.appended(ids);
    // Closed meanwhile: the entries are journaled and will be replayed by the next open.
    if (!this.closed) s.memory.admit(accepted);
    return out;
  }

  async read(consumer: string, max: number, blockMs: number): Promise<QueueEntry[]> {
    if (this.closed) return [];
    const s = this.state ?? (await this.open());
    return s.memory.read(consumer, max, blockMs);
  }

  async reclaim(consumer: string, minIdleMs: number, max: number): Promise<QueueEntry[]> {
    if (this.closed) return [];
    const s = this.state ?? (await this.open());
    return s.memory.reclaim(consumer, minIdleMs, max);
  }

  /**
   * Removes the entries at once; their journal records go once every earlier entry is
   * settled too (in the background: a crash before that only redelivers them).
   */
  async ack(entryIds: readonly string[]): Promise<void> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    for (const id of entryIds) s.watermark.settle(id);
    await s.memory.ack(entryIds);
    s.watermark.kick();
  }

  async depth(): Promise<number> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    return s.memory.depth();
  }

  /**
   * Writes the entries to the dead-letter file, then removes them from the queue. An entry
   * already acknowledged is skipped. If the file cannot be written, the entries go back to
   * the queue (delivered again) and the error is thrown.
   */
  async deadLetter(entries: readonly QueueEntry[], reason: string): Promise<void> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    const claimed = entries.filter((e) => s.watermark.claim(e.entryId));
    if (claimed.length === 0) return;
    // Out of the queue now, so no reader gets them while the file is written; their
    // records stay in the journal until the file holds them.
    await s.memory.ack(claimed.map((e) => e.entryId));
    const firstSeenAt = new Date().toISOString();
    try {
      await s.dead.add(
        claimed.map((e) => ({ payload: e.payload, reason, deliveries: e.deliveries, firstSeenAt })),
      );
    } catch (err) {
      for (const e of claimed) s.watermark.unclaim(e.entryId);
      if (!this.closed) s.memory.admit(claimed.map((e) => ({ entryId: e.entryId, payload: e.payload })));
      throw err;
    }
    for (const e of claimed) s.watermark.settleClaimed(e.entryId);
    s.watermark.kick();
  }

  async listDeadLetters(max: number): Promise<DeadLetter[]> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    return s.dead.list(max);
  }

  async removeDeadLetters(deadIds: readonly string[]): Promise<void> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    await s.dead.remove(deadIds);
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.open();
  }

  /** As the in-process queue's (no consumers tracked); dead letters are those in the file. */
  async inspect(): Promise<QueueInspection> {
    const s = this.state ?? (await this.open());
    this.assertOpen();
    return { ...(await s.memory.inspect()), deadLetters: s.dead.count };
  }

  /**
   * Releases blocked readers, writes the acknowledgements made so far to the journal's
   * checkpoint, fsyncs and releases the lock. Entries still held are replayed by the next
   * open. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An open still under way sees `closed` and releases the journal itself.
    const s = this.opening ? await this.opening.catch(() => null) : null;
    if (!s) return;
    await s.memory.close();
    // One last pass, so a clean shutdown leaves only unsettled entries to replay.
    await s.watermark.flush();
    await s.dead.close();
    await s.journal.close();
  }

  private open(): Promise<Opened> {
    if (this.closed) return Promise.reject(new AuditError(ErrorCodes.CLOSED, 'queue is closed'));
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<Opened> {
    const journal = await Journal.open({
      dir: this.opts.dir,
      fsync: this.opts.fsync,
      fsyncIntervalMs: this.opts.fsyncIntervalMs,
      maxTotalBytes: this.opts.maxBytes,
    });
    try {
      const onError =
        this.opts.onError ??
        ((err: unknown) =>
          process.emitWarning(`auditline durable queue: ${(err as Error).message ?? String(err)}`, {
            code: 'AUDITLINE_QUEUE_JOURNAL',
          }));
      const dead = await DeadLetterFile.load(this.opts.dir, journal.fsyncPolicy !== 'never');
      // The cap is enforced here (in-flight appends included), not by the memory queue; and
      // entries replayed at open must all fit even if the cap was lowered since.
      const memory = new MemoryQueue({ maxLength: Number.MAX_SAFE_INTEGER });
      const watermark = new AckWatermark(journal, onError);
      for (;;) {
        const batch = await journal.read(REPLAY_BATCH);
        if (!batch) break;
        const entries = batch.records.map((r) => ({ ...decodeEntry(r), enqueuedAtMs: r.appendedAt }));
        watermark.replayed(entries.map((e) => e.entryId));
        memory.admit(entries);
      }
      // Nothing replayed is acknowledged yet: the watermark reads the journal again from
      // its checkpoint as entries settle.
      journal.rewind();
      const opened: Opened = { journal, memory, dead, watermark };
      if (this.closed) {
        await memory.close();
        await journal.close();
        throw new AuditError(ErrorCodes.CLOSED, 'queue is closed');
      }
      this.state = opened;
      return opened;
    } catch (err) {
      await journal.close().catch(() => undefined);
      throw err;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'queue is closed');
  }
}
