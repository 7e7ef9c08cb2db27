/** Types of the producer (`producer.ts`): its options, counters and in-flight records. */
import type { AuditlineConfig } from './config.js';
import type { AuditEvent, LogOutcome, LogResult } from './core/event.js';
import type { Journal } from './journal/index.js';
import type { QueueAdapter } from './queue/port.js';
import type { StoreAdapter } from './store/port.js';

/** The part of a store a producer needs for direct writes. */
export type DirectStore = Pick<StoreAdapter, 'append' | 'close'>;

/** Counters a producer keeps; read them with `logger.stats()`. */
export interface ProducerStats {
  /** By category, then outcome. */
  events: Record<string, Partial<Record<LogOutcome, number>>>;
  /** Events refused by validation. */
  rejected: number;
  /** Queue calls that failed (the events were spilled). */
  enqueueErrors: number;
  /** Queue calls slower than handoffTimeoutMs (the events were spilled). */
  handoffTimeouts: number;
  /** Events that met a full or unusable journal and took the journal fallback. */
  journalFallbacks: number;
  /** Direct writes that failed (the events were spilled or rejected). */
  directFailures: number;
  /** `audit.gap` records written. */
  gapRecords: number;
  /** Journaled events moved into the queue. */
  replayed: number;
}

export type ProducerConfig = Pick<
  AuditlineConfig,
  | 'validation'
  | 'overflow'
  | 'overflowBlockMs'
  | 'journalFallback'
  | 'handoffTimeoutMs'
  | 'maxInflightEvents'
  | 'gapIntervalMs'
  | 'queueMaxLength'
>;

export interface ProducerOptions {
  config: ProducerConfig;
  queue: QueueAdapter;
  /** Opens the store used for direct writes; called on first need (again after a failure). */
  directStore: () => Promise<DirectStore>;
  /** The spill journal; null disables spilling (the journal fallback applies instead). */
  journal: Journal | null;
  /** Events sent in one queue call, at most. */
  maxEnqueueBatch?: number;
  /** Releases what the producer's owner opened (called by close(), after the journal closes). */
  onClose?: () => Promise<void>;
  /** Errors the producer handled (spills, failed direct writes). Must not throw. */
  onError?: (err: unknown, context: string) => void;
}

export interface Pending {
  event: AuditEvent;
  payload: string;
  resolve: (r: LogResult) => void;
  reject: (e: unknown) => void;
  /** Gap records must never be dropped themselves. */
  internal?: boolean;
  /**
   * Settles once every chunk handed off before this event's chunk has finished routing. A
   * spill waits for it, so the journal holds events in log order even when an earlier chunk
   * waited out the handoff timeout while a later one failed fast.
   */
  earlier?: Promise<void>;
}

/** A sealed event and its queue payload. */
export type Sealed = { event: AuditEvent; payload: string };
