/**
 * The producer's spill path: a disk journal that takes events the queue cannot (Redis
 * unreachable or slow, queue at its cap with the `spill` policy) and replays them into the
 * queue, oldest first, as soon as there is room.
 *
 * Replay is at-least-once into the queue: a crash between the queue accepting a batch and
 * the journal's checkpoint replays that batch again, and a concurrent producer taking the
 * room we measured makes us retry a batch whose head was accepted. Both only duplicate
 * queue entries; the store inserts each event id once, so the table still holds exactly one
 * row per event.
 */
import { join } from 'node:path';
import type { AuditlineConfig } from './config.js';
import { AuditError, ErrorCodes } from './core/errors.js';
import { Journal, type JournalOptions } from './journal/index.js';
import type { QueueAdapter } from './queue/port.js';

/** Journal slots a host can have under one directory (one per live process). */
const MAX_SLOTS = 64;

/**
 * Opens this process's journal: `<journalDir>/slot-0`, or the next slot when another live
 * process holds it. A restarted process takes the lowest free slot and so replays what a
 * dead process left there.
 */
export async function openSpillJournal(
  config: Pick<AuditlineConfig, 'journalDir' | 'journalFsync' | 'journalMaxBytes'>,
): Promise<Journal> {
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    try {
      return await openJournalSlot(config, join(config.journalDir, `slot-${slot}`));
    } catch (err) {
      if (err instanceof AuditError && err.code === ErrorCodes.JOURNAL_LOCKED) continue;
      throw err;
    }
  }
  throw new AuditError(
    ErrorCodes.JOURNAL_LOCKED,
    `all ${MAX_SLOTS} journal slots under ${config.journalDir} are in use`,
  );
}

/**
 * Opens one given slot directory with the configured fsync policy and cap (what
 * `auditline journal replay` uses for slots a dead process left behind).
 * @throws AuditError `AUDIT_ERR_JOURNAL_LOCKED` when a live process holds it.
 */
export function openJournalSlot(
  config: Pick<AuditlineConfig, 'journalFsync' | 'journalMaxBytes'>,
  dir: string,
  onCorruption?: JournalOptions['onCorruption'],
): Promise<Journal> {
  return Journal.open({
    dir,
    fsync: config.journalFsync,
    maxTotalBytes: config.journalMaxBytes,
    ...(onCorruption ? { onCorruption } : {}),
  });
}

export interface ReplayerOptions {
  journal: Journal;
  queue: QueueAdapter;
  /** The queue's cap: replay only fills the room below it. */
  queueMaxLength: number;
  /** Delay between attempts while the queue is unreachable or full. */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Moves journaled events into the queue in order. `kick()` after each spill; it runs until
 * the journal is empty, retrying every `retryMs` while the queue is down or full.
 */
export class Replayer {
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  replayed = 0;

  constructor(private readonly opts: ReplayerOptions) {}

  /** Starts a replay pass unless one is running or scheduled. */
  kick(): void {
    if (this.running || this.timer || this.stopped) return;
    this.running = this.pass().finally(() => {
      this.running = null;
    });
  }

  /** Stops scheduling passes and waits for the current one. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One replay pass, used directly by `auditline journal replay`. Returns events moved. */
  async drainOnce(): Promise<{ moved: number; done: boolean }> {
    const { journal, queue, queueMaxLength } = this.opts;
    let moved = 0;
    for (;;) {
      const room = queueMaxLength - (await queue.depth());
      if (room <= 0) return { moved, done: false };
      const batch = await journal.read(Math.min(1000, room));
      if (!batch) return { moved, done: true };
      let statuses: string[];
      try {
        statuses = await queue.enqueue(batch.records.map((r) => r.payload));
      } catch (err) {
        journal.rewind();
        throw err;
      }
      if (statuses.some((s) => s !== 'queued')) {
        // Someone else took the room: retry the whole batch later (its head is duplicated
        // in the queue, which the store's idempotent insert absorbs).
        journal.rewind();
        return { moved, done: false };
      }
      await journal.ack(batch);
      moved += batch.records.length;
      this.replayed += batch.records.length;
    }
  }

  private async pass(): Promise<void> {
    let done = false;
    try {
      done = (await this.drainOnce()).done;
    } catch (err) {
      this.opts.onError?.(err);
    }
    if (done && (await this.opts.journal.status()).pendingRecords === 0) return;
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, this.opts.retryMs ?? 250);
    this.timer.unref();
  }
}
