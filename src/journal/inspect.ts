/**
 * A read-only look at a journal directory from outside the process that owns it: what
 * `auditline journal status` prints. It takes no lock and changes nothing on disk, so it is
 * safe next to a live producer. It reads every pending byte once (like `Journal.open`).
 *
 * While a live process holds the directory, its active segment may end in a record being
 * written at this very moment; that shows up as a `torn-tail` region here although nothing
 * is damaged. Only a directory no live process holds gives an exact picture.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { inspectDirLock, type LockHolder } from './lock.js';
import { SegmentReader } from './reader.js';
import { listSegments } from './segments.js';
import type { CorruptionReport, JournalCounters, JournalStatus } from './types.js';

/** What {@link inspectJournal} finds in one journal directory. */
export interface JournalInspection extends JournalStatus {
  dir: string;
  /** The lock file's holder, or null when no lock file exists (nobody holds it). */
  holder: LockHolder | null;
  /** Regions holding no valid record among the pending bytes; replay will skip them. */
  corrupt: CorruptionReport[];
}

/** Inspects journal directory `dir` without opening it (no lock, no writes). */
export async function inspectJournal(dir: string): Promise<JournalInspection> {
  const holder = await inspectDirLock(dir);
  const segments = await listSegments(dir);
  const start = (await readCheckpoint(dir)) ?? { segment: segments[0]?.num ?? 0, offset: 0 };
  const corrupt: CorruptionReport[] = [];
  const counters: JournalCounters = {
    appendedRecords: 0,
    appendedBytes: 0,
    ackedRecords: 0,
    fullRejections: 0,
    corruptRegions: 0,
    corruptBytes: 0,
    fsyncErrors: 0,
  };
  const reader = new SegmentReader(
    () => segments,
    counters,
    (r) => corrupt.push(r),
  );
  const scan = await reader.scan(start, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, false);
  reader.dropWindow();
  return {
    dir,
    holder,
    segments: segments.length,
    bytes: segments.reduce((n, s) => n + s.size, 0),
    pendingRecords: scan.count,
    oldestRecordAt: scan.firstAt === null ? null : new Date(scan.firstAt),
    corrupt,
  };
}

/** The journal directories under a spill root: `slot-<n>` as made by `openSpillJournal`, lowest first. */
export async function listJournalSlots(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .map((n) => /^slot-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => join(root, m[0]));
}
