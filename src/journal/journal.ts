/**
 * The local disk spill journal: where producers put events when Redis is unreachable or the
 * queue is full, and from where they are replayed, in order, once the queue accepts them.
 *
 * Guarantees: records are replayed oldest first; a record is replayed until a batch holding
 * it is acknowledged, across process restarts (at-least-once: a crash between the queue
 * accepting a batch and the checkpoint write replays that batch again, which is harmless
 * because events carry ids and the store inserts idempotently). A segment file is deleted
 * only once every record in it is acknowledged. Nothing that fails its checksum is replayed.
 * What a power failure can lose depends on the {@link FsyncPolicy}.
 *
 * A new process never appends to segments left by an earlier one: it starts a new segment,
 * so a torn tail from a crash stays where it is, is reported once, and is skipped.
 */
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditError, ErrorCodes } from '../core/errors.js';
import { comparePositions, type Position, readCheckpoint, writeCheckpoint } from './checkpoint.js';
import { acquireDirLock, type DirLock } from './lock.js';
import { SegmentReader } from './reader.js';
import { encodeRecord, HEADER_BYTES } from './record.js';
import { listSegments, type Segment, segmentName } from './segments.js';
import type {
  AppendResult,
  FsyncPolicy,
  JournalCounters,
  JournalOptions,
  JournalRecord,
  JournalStatus,
  ReplayBatch,
} from './types.js';

const MiB = 1024 * 1024;

interface PendingAppend {
  records: Buffer[];
  bytes: number;
  resolve: (r: AppendResult) => void;
  reject: (err: unknown) => void;
}

interface Batch extends ReplayBatch {
  count: number;
}

/** A disk spill journal on one directory; create with {@link Journal.open}. */
export class Journal {
  readonly dir: string;
  readonly fsyncPolicy: FsyncPolicy;
  private readonly maxSegmentBytes: number;
  private readonly maxTotalBytes: number;
  private readonly now: () => number;

  private segments: Segment[] = [];
  private activeFh: FileHandle | null = null;
  private nextSegment = 1;
  private totalBytes = 0;
  private reservedBytes = 0;
  private ackPos: Position = { segment: 0, offset: 0 };
  private readPos: Position = { segment: 0, offset: 0 };
  private outstanding: Batch[] = [];
  private pending = 0;
  private readonly reader: SegmentReader;
  /** appendedAt of the oldest pending record; `undefined` = not known, look it up. */
  private oldestAt: number | null | undefined = undefined;
  private readonly counters: JournalCounters = {
    appendedRecords: 0,
    appendedBytes: 0,
    ackedRecords: 0,
    fullRejections: 0,
    corruptRegions: 0,
    corruptBytes: 0,
    fsyncErrors: 0,
  };

  private queue: PendingAppend[] = [];
  private writer: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private dirty = false;
  private timer: NodeJS.Timeout | null = null;
  private ackChain: Promise<void> = Promise.resolve();
  private readChain: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    opts: JournalOptions,
    private readonly lock: DirLock,
  ) {
    this.dir = opts.dir;
    this.fsyncPolicy = opts.fsync ?? 'interval';
    this.maxSegmentBytes = opts.maxSegmentBytes ?? 16 * MiB;
    this.maxTotalBytes = opts.maxTotalBytes ?? 1024 * MiB;
    this.now = opts.now ?? Date.now;
    const onCorruption =
      opts.onCorruption ??
      ((r) =>
        process.emitWarning(
          `auditline journal: skipped ${r.skippedBytes} corrupt byte(s) (${r.reason}) at ${r.file}:${r.offset}`,
          { code: 'AUDITLINE_JOURNAL_CORRUPT' },
        ));
    this.reader = new SegmentReader(() => this.segments, this.counters, onCorruption);
  }

  /**
   * Opens (or creates) the journal in `opts.dir`: takes the directory lock, deletes segments
   * the checkpoint says are fully acknowledged, and scans the rest once to count pending
   * records and report corrupt regions (reading every pending byte once).
   * @throws AuditError `AUDIT_ERR_JOURNAL_LOCKED` if another live process holds the directory.
   */
  static async open(opts: JournalOptions): Promise<Journal> {
    const policy = opts.fsync ?? 'interval';
    if (!['always', 'interval', 'never'].includes(policy)) {
      throw new AuditError(
        ErrorCodes.CONFIG,
        `journal fsync policy must be always|interval|never, got ${policy}`,
      );
    }
    const intervalMs = opts.fsyncIntervalMs ?? 100;
    if (!Number.isFinite(intervalMs) || intervalMs < 1) {
      throw new AuditError(ErrorCodes.CONFIG, `journal fsyncIntervalMs must be >= 1, got ${intervalMs}`);
    }
    if ((opts.maxSegmentBytes ?? 16 * MiB) <= HEADER_BYTES) {
      throw new AuditError(ErrorCodes.CONFIG, `journal maxSegmentBytes must exceed ${HEADER_BYTES}`);
    }
    await mkdir(opts.dir, { recursive: true });
    const lock = await acquireDirLock(opts.dir);
    const j = new Journal(opts, lock);
    try {
      await j.recover();
    } catch (err) {
      await lock.release();
      throw err;
    }
    if (j.fsyncPolicy === 'interval') {
      j.timer = setInterval(() => j.backgroundSync(), intervalMs);
      j.timer.unref();
    }
    return j;
  }

  private async recover(): Promise<void> {
    const all = await listSegments(this.dir);
    const checkpoint = await readCheckpoint(this.dir);
    const first = all[0];
    this.ackPos = checkpoint ?? { segment: first ? first.num : 0, offset: 0 };
    const maxNum = Math.max(this.ackPos.segment, ...all.map((s) => s.num));
    this.nextSegment = maxNum + 1;
    this.segments = all;
    this.totalBytes = all.reduce((n, s) => n + s.size, 0);
    await this.deleteAcknowledged();
    this.readPos = this.ackPos;
    const scan = await this.reader.scan(
      this.ackPos,
      Number.POSITIVE_INFINITY,
      Number.POSITIVE_INFINITY,
      false,
    );
    this.pending = scan.count;
    this.reader.dropWindow();
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends records (each a string, e.g. an event's JSON) as one unit: all or none are
   * accepted. Resolves when the fsync policy's durability is met (see {@link FsyncPolicy}).
   * Resolves `{ status: 'full' }` (and counts it) when `maxTotalBytes` would be exceeded or
   * the disk is full; the caller then applies its configured fallback.
   * @throws AuditError `AUDIT_ERR_JOURNAL_RECORD_TOO_LARGE`, `AUDIT_ERR_CLOSED`, `AUDIT_ERR_JOURNAL_IO`.
   */
  async append(payloads: readonly string[]): Promise<AppendResult> {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'journal is closed');
    if (payloads.length === 0) return { status: 'ok', records: 0, bytes: 0 };
    const at = this.now();
    const records = payloads.map((p) => encodeRecord(Buffer.from(p, 'utf8'), at));
    let bytes = 0;
    for (const r of records) {
      if (r.length > this.maxSegmentBytes) {
        throw new AuditError(
          ErrorCodes.JOURNAL_RECORD_TOO_LARGE,
          `journal record of ${r.length} bytes exceeds maxSegmentBytes (${this.maxSegmentBytes})`,
        );
      }
      bytes += r.length;
    }
    // Reserve before queueing so concurrent appends cannot overshoot the cap together.
    if (this.totalBytes + this.reservedBytes + bytes > this.maxTotalBytes) {
      this.counters.fullRejections++;
      return { status: 'full', code: ErrorCodes.JOURNAL_FULL, reason: 'cap' };
    }
    this.reservedBytes += bytes;
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ records, bytes, resolve, reject });
      if (!this.writer) this.writer = this.drainQueue();
    });
  }

  /** Writes queued appends; everything queued while one group is written forms the next group. */
  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      let outcome: AppendResult | { error: unknown };
      try {
        await this.writeGroup(group.flatMap((g) => g.records));
        outcome = { status: 'ok', records: 0, bytes: 0 };
      } catch (err) {
        await this.sealActive(false);
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
          outcome = { status: 'full', code: ErrorCodes.JOURNAL_FULL, reason: 'disk' };
        } else {
          outcome = {
            error: new AuditError(ErrorCodes.JOURNAL_IO, `journal write failed: ${(err as Error).message}`, {
              cause: err,
            }),
          };
        }
      }
      for (const g of group) {
        this.reservedBytes -= g.bytes;
        if ('error' in outcome) g.reject(outcome.error);
        else if (outcome.status === 'full') {
          this.counters.fullRejections++;
          g.resolve(outcome);
        } else g.resolve({ status: 'ok', records: g.records.length, bytes: g.bytes });
      }
    }
    this.writer = null;
  }

  private async writeGroup(records: Buffer[]): Promise<void> {
    let i = 0;
    while (i < records.length) {
      const first = records[i]!;
      const seg = await this.activeFor(first.length);
      let chunkBytes = first.length;
      let j = i + 1;
      while (j < records.length && seg.size + chunkBytes + records[j]!.length <= this.maxSegmentBytes) {
        chunkBytes += records[j]!.length;
        j++;
      }
      const buf = j - i === 1 ? first : Buffer.concat(records.slice(i, j), chunkBytes);
      let written = 0;
      while (written < buf.length) {
        const r = await this.activeFh!.write(buf, written, buf.length - written, null);
        written += r.bytesWritten;
      }
      // Only now may readers see these bytes: `size` always ends at a record boundary.
      seg.size += buf.length;
      this.totalBytes += buf.length;
      if (this.pending === 0) this.oldestAt = undefined;
      this.pending += j - i;
      this.counters.appendedRecords += j - i;
      this.counters.appendedBytes += buf.length;
      i = j;
    }
    if (this.fsyncPolicy === 'always') await this.activeFh!.datasync();
    else this.dirty = true;
  }

  /** The active segment, rolled first if a record of `len` bytes would overflow it. */
  private async activeFor(len: number): Promise<Segment> {
    const last = this.segments[this.segments.length - 1];
    if (last && !last.sealed && this.activeFh) {
      if (last.size === 0 || last.size + len <= this.maxSegmentBytes) return last;
      await this.sealActive(this.fsyncPolicy !== 'never');
      // The rolled segment may already be fully acknowledged (replay kept up): free it now.
      await this.deleteAcknowledged();
    }
    const num = this.nextSegment++;
    const path = join(this.dir, segmentName(num));
    // 'ax': O_APPEND | O_CREAT | O_EXCL — a segment number is never reused.
    this.activeFh = await open(path, 'ax');
    if (this.fsyncPolicy !== 'never') await this.syncDir();
    const seg: Segment = { num, path, size: 0, sealed: false };
    this.segments.push(seg);
    return seg;
  }

  /** Stops appending to the active segment; after a write error its tail is left for replay to skip. */
  private async sealActive(sync: boolean): Promise<void> {
    const fh = this.activeFh;
    if (!fh) return;
    this.activeFh = null;
    await this.syncing;
    const last = this.segments[this.segments.length - 1];
    if (last) last.sealed = true;
    try {
      if (sync) await fh.datasync();
    } finally {
      this.dirty = false;
      await fh.close().catch(() => undefined);
    }
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  private backgroundSync(): void {
    const fh = this.activeFh;
    if (!this.dirty || !fh || this.syncing) return;
    this.dirty = false;
    this.syncing = fh
      .datasync()
      .catch(() => {
        this.counters.fsyncErrors++;
      })
      .finally(() => {
        this.syncing = null;
      });
  }

  // ---------------------------------------------------------------- replay

  /**
   * Reads the next batch of unacknowledged records, oldest first, after any batch already
   * handed out and not yet acknowledged (so batches can be pipelined). Corrupt regions met
   * on the way are reported and skipped. Resolves `null` when there is nothing more to read.
   */
  read(maxRecords = 500, maxPayloadBytes = 4 * MiB): Promise<ReplayBatch | null> {
    if (this.closed) return Promise.reject(new AuditError(ErrorCodes.CLOSED, 'journal is closed'));
    const next = this.readChain.then(async () => {
      const scan = await this.reader.scan(this.readPos, Math.max(1, maxRecords), maxPayloadBytes, true);
      if (comparePositions(scan.end, this.readPos) === 0) return null;
      this.readPos = scan.end;
      const batch: Batch = { records: scan.records, end: scan.end, count: scan.count };
      this.outstanding.push(batch);
      if (scan.count > 0) return batch;
      // Only corrupt bytes were skipped: acknowledge them now if nothing is outstanding
      // before them, else together with the batch before them (see acknowledgeHead).
      if (this.outstanding.length === 1) await this.acknowledgeHead();
      return null;
    });
    this.readChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Acknowledges a batch from {@link read} after the queue accepted its records: its records
   * are never replayed again (the checkpoint is written before this resolves), and segments
   * whose records are all acknowledged are deleted. Batches must be acknowledged in the
   * order they were read.
   * @throws AuditError `AUDIT_ERR_JOURNAL_ACK_ORDER` if `batch` is not the oldest outstanding one.
   */
  async ack(batch: ReplayBatch): Promise<void> {
    if (this.closed) throw new AuditError(ErrorCodes.CLOSED, 'journal is closed');
    if (this.outstanding[0] !== batch) {
      throw new AuditError(
        ErrorCodes.JOURNAL_ACK_ORDER,
        'journal batches must be acknowledged in the order they were read (or were rewound)',
      );
    }
    await this.acknowledgeHead();
  }

  /** Forgets batches read but not acknowledged: the next `read` starts at the oldest unacknowledged record. */
  rewind(): void {
    this.outstanding = [];
    this.readPos = this.ackPos;
  }

  /**
   * Replays everything pending: reads a batch, awaits `handler` (which should enqueue the
   * payloads), acknowledges, repeats until the journal is empty — including records appended
   * meanwhile. If `handler` throws, the journal is rewound and the error rethrown; the batch
   * will be replayed by the next call.
   */
  async replay(
    handler: (payloads: string[], records: readonly JournalRecord[]) => Promise<void>,
    opts: { batchRecords?: number; batchPayloadBytes?: number } = {},
  ): Promise<{ records: number; batches: number }> {
    let records = 0;
    let batches = 0;
    for (;;) {
      const batch = await this.read(opts.batchRecords, opts.batchPayloadBytes);
      if (!batch) return { records, batches };
      try {
        await handler(
          batch.records.map((r) => r.payload),
          batch.records,
        );
      } catch (err) {
        this.rewind();
        throw err;
      }
      await this.ack(batch);
      records += batch.records.length;
      batches++;
    }
  }

  private async acknowledgeHead(): Promise<void> {
    let head = this.outstanding.shift();
    while (head) {
      this.ackPos = head.end;
      this.pending = Math.max(0, this.pending - head.count);
      this.oldestAt = undefined;
      this.counters.ackedRecords += head.count;
      // Skipped-corruption batches right behind are acknowledged with it.
      if (this.outstanding[0]?.count !== 0) break;
      head = this.outstanding.shift();
    }
    const run = this.ackChain.then(async () => {
      await writeCheckpoint(this.dir, this.ackPos, this.fsyncPolicy !== 'never');
      await this.deleteAcknowledged();
    });
    this.ackChain = run.catch(() => undefined);
    await run;
  }

  /** Deletes sealed segments every record of which is before the acknowledgement position. */
  private async deleteAcknowledged(): Promise<void> {
    while (this.segments.length > 0) {
      const s = this.segments[0]!;
      const done =
        s.sealed &&
        (s.num < this.ackPos.segment || (s.num === this.ackPos.segment && this.ackPos.offset >= s.size));
      if (!done) break;
      await unlink(s.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      // A roll may delete concurrently with an ack; only the winner accounts for it.
      if (this.segments[0] !== s) continue;
      this.segments.shift();
      this.totalBytes -= s.size;
      this.reader.dropWindow(s.num);
    }
  }

  // ---------------------------------------------------------------- status and close

  /** Size and backlog of the journal; reads at most the oldest pending record from disk. */
  async status(): Promise<JournalStatus> {
    if (this.pending === 0) this.oldestAt = null;
    else if (this.oldestAt === undefined && !this.closed) {
      this.oldestAt = (await this.reader.scan(this.ackPos, 1, Number.POSITIVE_INFINITY, false)).firstAt;
    }
    const oldestRecordAt = this.oldestAt == null ? null : new Date(this.oldestAt);
    return {
      segments: this.segments.length,
      bytes: this.totalBytes,
      pendingRecords: this.pending,
      oldestRecordAt,
    };
  }

  /** Counters since open (a copy). */
  stats(): JournalCounters {
    return { ...this.counters };
  }

  /**
   * Finishes queued appends, fsyncs (unless the policy is `never`), stops the interval
   * timer, waits for pending acknowledgements and releases the directory lock. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    try {
      await this.writer;
      await this.readChain;
      await this.ackChain;
      await this.sealActive(this.fsyncPolicy !== 'never');
    } finally {
      this.reader.dropWindow();
      await this.lock.release();
    }
  }
}
