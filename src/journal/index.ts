/**
 * The local disk spill journal. See {@link Journal}.
 */
export type { Position } from './checkpoint.js';
export { inspectJournal, type JournalInspection, listJournalSlots } from './inspect.js';
export { Journal } from './journal.js';
export type { LockHolder } from './lock.js';
export type { CorruptionReason } from './record.js';
export type {
  AppendResult,
  CorruptionReport,
  FsyncPolicy,
  JournalCounters,
  JournalOptions,
  JournalRecord,
  JournalStatus,
  ReplayBatch,
} from './types.js';
