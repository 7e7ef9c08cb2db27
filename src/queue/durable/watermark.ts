/**
 * The acknowledgement watermark of the durable queue: turns out-of-order, concurrent acks
 * of queue entries into the in-order batch acks the journal accepts.
 *
 * Every entry has one journal record, `<entryId>\n<payload>`. Entry ids are kept in journal
 * order (`order`); an entry is *settled* once its outcome is durable somewhere else (its row
 * is committed, or it is in the dead-letter file). The journal is acknowledged up to the
 * longest prefix of `order` that is settled — never further, so a record is dropped only
 * after every record before it could be dropped too, and a crash replays exactly the
 * entries not yet settled (plus, at most, settled ones not yet checkpointed: duplicates,
 * which the store's idempotent insert absorbs).
 *
 * Why the ids are in the records rather than counted by position: an append that fails
 * half-way (ENOSPC after a segment roll, EIO) can leave some of its records in the journal
 * although the caller was told `full` or got an error. Reading the ids back, such orphans
 * are recognised (neither held nor settled) and acknowledged with their neighbours, instead
 * of shifting every later record by one.
 */
import type { Journal, JournalRecord } from '../../journal/index.js';

/** Splits a record written by {@link encodeEntry}. */
export function decodeEntry(record: JournalRecord): { entryId: string; payload: string } {
  const nl = record.payload.indexOf('\n');
  if (nl < 0) {
    // Not written by this queue: give it a stable id from its position, keep the payload whole.
    const { segment, offset } = record.position;
    return { entryId: `j-${segment}-${offset}`, payload: record.payload };
  }
  return { entryId: record.payload.slice(0, nl), payload: record.payload.slice(nl + 1) };
}

/** The journal record of one entry. Entry ids never contain a newline. */
export function encodeEntry(entryId: string, payload: string): string {
  return `${entryId}\n${payload}`;
}

// Upper bound on the payload bytes one watermark step reads back; a step reads only records
// already settled, so this bounds memory, not progress.
const STEP_MAX_BYTES = 64 * 1024 * 1024;
// A step re-reads its records, and the journal's reader re-reads the active segment's tail
// after every append; so under load the watermark waits for this many settled entries (or for
// all of them: an idle queue is checkpointed at once). The cost: up to this many entries,
// already committed, are delivered again after a crash (the store ignores the duplicates).
const MIN_STEP = 512;
// The unacknowledged-order array is compacted once this many acknowledged ids lead it.
const COMPACT_AT = 4096;

/** Tracks entry states and advances the journal's acknowledgement. */
export class AckWatermark {
  /**
   * Entries whose record is being appended, or is in the journal, and that are not settled:
   * `live` while in the queue, `claimed` while being moved to the dead-letter file.
   */
  private readonly held = new Map<string, 'live' | 'claimed'>();
  /** Settled entries whose record the journal has not acknowledged yet. */
  private readonly settled = new Set<string>();
  /** Ids of appended records not yet acknowledged, in journal order, from `head`. */
  private order: string[] = [];
  private head = 0;
  private running: Promise<void> | null = null;
  private again = false;
  /** Set when the journal was found out of step with `order`; advancing stops (see step()). */
  private stalled = false;
  /** Step on any settled prefix, however short (close()). */
  private force = false;

  constructor(
    private readonly journal: Journal,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Entries held: counted against the queue's cap, in-flight appends included. */
  get heldCount(): number {
    return this.held.size;
  }

  /** An append of these ids is about to start. */
  begin(ids: readonly string[]): void {
    for (const id of ids) this.held.set(id, 'live');
  }

  /** Their append resolved: call synchronously after it, so `order` follows the journal's. */
  appended(ids: readonly string[]): void {
    for (const id of ids) this.order.push(id);
  }

  /** Their append was refused or failed: the entries are not in the queue. */
  failed(ids: readonly string[]): void {
    for (const id of ids) this.held.delete(id);
  }

  /** Entries found in the journal at open, in journal order. */
  replayed(ids: readonly string[]): void {
    this.begin(ids);
    this.appended(ids);
  }

  /** True while the entry is in the queue (not acknowledged, not being dead-lettered). */
  isLive(id: string): boolean {
    return this.held.get(id) === 'live';
  }

  /** The entry's row is committed: its record may go. Unknown or claimed ids are ignored. */
  settle(id: string): void {
    if (this.held.get(id) !== 'live') return;
    this.held.delete(id);
    this.settled.add(id);
  }

  /** Starts moving a live entry to the dead-letter file; false if it is not live. */
  claim(id: string): boolean {
    if (this.held.get(id) !== 'live') return false;
    this.held.set(id, 'claimed');
    return true;
  }

  /** The dead-letter file holds the claimed entry: its record may go. */
  settleClaimed(id: string): void {
    if (this.held.get(id) !== 'claimed') return;
    this.held.delete(id);
    this.settled.add(id);
  }

  /** The dead-letter write failed: the entry is back in the queue. */
  unclaim(id: string): void {
    if (this.held.get(id) === 'claimed') this.held.set(id, 'live');
  }

  /** Advances the journal in the background (one pass at a time; calls during a pass coalesce). */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
  }

  /** Waits until no pass is running (close() calls it before closing the journal). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Acknowledges every settled prefix now, however short (a clean shutdown). */
  async flush(): Promise<void> {
    await this.idle();
    this.force = true;
    this.kick();
    await this.idle();
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        while (await this.step());
      } catch (err) {
        // A failed read or checkpoint write: the records stay and are retried on the next
        // ack; a crash meanwhile only replays settled entries again (duplicates, not loss).
        // Rewinding drops a batch read but not acknowledged; its ids, already taken off
        // `order`, then read back as orphans and are acknowledged as such.
        this.journal.rewind();
        this.onError(err);
        return;
      }
    } while (this.again);
  }

  /** Acknowledges the next settled prefix; false when there is nothing (more) to do now. */
  private async step(): Promise<boolean> {
    if (this.stalled) return false;
    let n = 0;
    while (this.head + n < this.order.length && this.settled.has(this.order[this.head + n]!)) n++;
    if (n === 0) return false;
    if (n < MIN_STEP && !this.force && this.head + n < this.order.length) return false;
    // The journal holds the records of `order` in the same order, possibly with orphans
    // between them; its first n records are therefore settled entries or orphans.
    const batch = await this.journal.read(n, STEP_MAX_BYTES);
    if (!batch) return this.stall(`expected ${n} record(s), found none`);
    for (const record of batch.records) {
      const { entryId } = decodeEntry(record);
      if (entryId === this.order[this.head]) {
        this.settled.delete(entryId);
        this.head++;
      } else if (this.held.has(entryId) || this.settled.has(entryId)) {
        // Only disk damage under a live process (a record of ours unreadable) gets here.
        // Stop acknowledging: nothing is lost, the journal merely keeps records until restart.
        this.journal.rewind();
        return this.stall(`record ${entryId} is out of order (expected ${this.order[this.head]})`);
      }
      // else: an orphan of a failed append; acknowledged with its neighbours.
    }
    await this.journal.ack(batch);
    if (this.head >= COMPACT_AT && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  private stall(why: string): false {
    this.stalled = true;
    this.onError(
      new Error(
        `durable queue: journal out of step with the queue (${why}); acknowledgement stops until restart, which replays the journal (duplicates only)`,
      ),
    );
    return false;
  }
}
