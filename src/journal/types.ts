/**
 * Public types of the disk spill journal.
 */
import type { ErrorCodes } from '../core/errors.js';
import type { Position } from './checkpoint.js';
import type { CorruptionReason } from './record.js';

/**
 * When appended records are made durable (fsync'd) — the trade-off between append latency
 * and what a power failure or kernel crash can lose. A process crash alone (SIGKILL, OOM)
 * loses nothing under any policy once `append` has resolved: the bytes are in the kernel's
 * page cache, which survives the process.
 *
 * - `always`: `append` resolves only after `fdatasync`. Nothing it acknowledged is lost on
 *   power failure. Slowest; concurrent appends share one fsync (group commit), so throughput
 *   stays reasonable under load.
 * - `interval` (default): `append` resolves after `write()`; a timer fsyncs the active
 *   segment every `fsyncIntervalMs` (default 100 ms) if it changed. On power failure the
 *   records acknowledged in the last interval (plus the time of one fsync) can be lost.
 *   This is the one window of loss the journal leaves open by default.
 * - `never`: `append` resolves after `write()`; the OS flushes when it likes (typically
 *   within ~30 s on Linux). On power failure, everything not yet flushed by the OS can be
 *   lost. The checkpoint is not fsync'd either (losing it only causes duplicates).
 *
 * Segment rolls, `close()` and the creation of a segment file are fsync'd under `always` and
 * `interval` so that the window stays bounded by one interval.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/** A region of a segment that held no valid record and was skipped. */
export interface CorruptionReport {
  /** Path of the segment file. */
  file: string;
  /** Byte offset of the skipped region in that file. */
  offset: number;
  skippedBytes: number;
  /** `torn-tail`: the file ends mid-record (crash during a write); `checksum`: CRC mismatch; `bad-header`: no record magic. */
  reason: CorruptionReason;
}

export interface JournalOptions {
  /** Directory of the journal; created if missing. One process at a time (lock file). */
  dir: string;
  /** Durability of `append`; see {@link FsyncPolicy}. Default `interval`. */
  fsync?: FsyncPolicy;
  /** Period of the background fsync under `interval`. Default 100 ms. */
  fsyncIntervalMs?: number;
  /** A segment is rolled before it would exceed this size. Also the largest record. Default 16 MiB. */
  maxSegmentBytes?: number;
  /**
   * Cap on the bytes of all segment files. An append that would exceed it is refused as a
   * whole with `{ status: 'full' }` (counted in `fullRejections`); the caller applies its
   * configured fallback. Acknowledged records still sharing a segment with unacknowledged
   * ones count until their segment is deleted. Default 1 GiB.
   */
  maxTotalBytes?: number;
  /**
   * Called once per skipped corrupt region (at open, when segments are scanned, or during
   * replay). Default: `process.emitWarning` with code `AUDITLINE_JOURNAL_CORRUPT`.
   */
  onCorruption?: (report: CorruptionReport) => void;
  /** Clock for `appendedAt` (tests). Default `Date.now`. */
  now?: () => number;
}

/** Outcome of {@link Journal.append}. */
export type AppendResult =
  | { status: 'ok'; records: number; bytes: number }
  | {
      status: 'full';
      code: typeof ErrorCodes.JOURNAL_FULL;
      /** `cap`: `maxTotalBytes` reached; `disk`: the filesystem is full (ENOSPC). */
      reason: 'cap' | 'disk';
    };

/** One replayed record. */
export interface JournalRecord {
  /** The string given to `append`. */
  payload: string;
  /** Epoch milliseconds when it was appended. */
  appendedAt: number;
  /** Where it is stored (diagnostics). */
  position: Position;
}

/** A batch handed out by {@link Journal.read}; pass it back to `ack` once the queue accepted it. */
export interface ReplayBatch {
  readonly records: readonly JournalRecord[];
  /** Position of the first byte after this batch (opaque to callers). */
  readonly end: Position;
}

export interface JournalStatus {
  /** Segment files on disk. */
  segments: number;
  /** Bytes of all segment files (what `maxTotalBytes` limits). */
  bytes: number;
  /**
   * Records appended or found at open and not yet acknowledged. Exact, except that a record
   * damaged on disk after this process counted it stays counted until a replay skips it.
   */
  pendingRecords: number;
  /** `appendedAt` of the oldest unacknowledged record, or null when there is none. */
  oldestRecordAt: Date | null;
}

/** Monotonic counters since `open` (for metrics and alerts). */
export interface JournalCounters {
  appendedRecords: number;
  appendedBytes: number;
  ackedRecords: number;
  /** Appends refused with `full`. */
  fullRejections: number;
  corruptRegions: number;
  corruptBytes: number;
  /** Background (interval) fsync failures; the records may not be durable. */
  fsyncErrors: number;
}
