/**
 * The local disk spill journal. See {@link Journal}.
 */
export type { Position } from './checkpoint.js';
export { Journal } from './journal.js';
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
