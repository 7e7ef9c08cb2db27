/**
 * The queue port: how producers hand events to workers. It speaks in audit terms; the
 * adapters (Redis Streams, in-process memory) own their connections and data structures.
 * Every adapter passes `test/conformance/queue.test.ts`.
 */

/**
 * One delivered event. Adapters may store the events of one `enqueue` call together (Redis
 * keeps up to 256 per stream entry): such a group is delivered, reclaimed and removed as a
 * whole, and each of its events is still one QueueEntry, acknowledged on its own.
 */
export interface QueueEntry {
  /**
   * Adapter-assigned id, unique within the queue (Redis: the stream entry id, followed by
   * `/<index>` for an event of a multi-event entry).
   */
  entryId: string;
  /** The serialized `AuditEvent` (JSON text, hash included) exactly as enqueued. */
  payload: string;
  /** How many times this entry has been delivered, 1 on its first delivery. */
  deliveries: number;
}

/** Per-payload result of {@link QueueAdapter.enqueue}. */
export type EnqueueStatus = 'queued' | 'full';

/** One dead-lettered entry, as listed by `auditline dlq`. */
export interface DeadLetter {
  /** Id within the dead-letter stream. */
  deadId: string;
  payload: string;
  reason: string;
  deliveries: number;
  /** ISO-8601 time the entry was first dead-lettered. */
  firstSeenAt: string;
}

/** One consumer of the group, as seen by {@link QueueAdapter.inspect}. */
export interface QueueConsumer {
  name: string;
  /** Entries delivered to it and not yet acknowledged (Redis: stream entries, see `pending` below). */
  pending: number;
  /** Milliseconds since it last read or claimed. */
  idleMs: number;
}

/** A point-in-time view of the queue for monitoring (`auditline stats`, `/metrics`). */
export interface QueueInspection {
  /** Events in the queue: unread plus pending (same as {@link QueueAdapter.depth}). */
  depth: number;
  /**
   * Delivered, unacknowledged entries. On Redis these are stream entries, each holding the
   * events of one producer flush (1 to 256), so compare it with itself over time, not with `depth`.
   */
  pending: number;
  /** Entries (Redis: stream entries) not yet delivered to any consumer; `null` when unknown. */
  lag: number | null;
  /** Age of the oldest pending entry, measured from when it was enqueued; `null` when none. */
  oldestPendingAgeMs: number | null;
  /** Entries in the dead-letter stream. */
  deadLetters: number;
  /** Known consumers; empty when the backend does not track them (in-process queue). */
  consumers: QueueConsumer[];
}

export interface QueueAdapter {
  /** Creates the stream and consumer group if they do not exist. Idempotent, safe to race. */
  init(): Promise<void>;
  /**
   * Appends payloads in order, each only while the queue holds fewer entries than its cap;
   * the check and the append are one atomic step. Resolves once the accepted entries are in
   * the queue (one round trip for the whole array).
   */
  enqueue(payloads: readonly string[]): Promise<EnqueueStatus[]>;
  /**
   * Delivers up to `max` never-delivered entries to `consumer`, waiting up to `blockMs` for
   * one. An adapter that groups events delivers whole groups: up to `max` plus one group
   * less one event.
   */
  read(consumer: string, max: number, blockMs: number): Promise<QueueEntry[]>;
  /**
   * Transfers to `consumer` up to `max` entries (whole groups, as in {@link read}) that other
   * consumers received at least `minIdleMs` ago without acknowledging them (a crashed or
   * stuck worker's batch).
   */
  reclaim(consumer: string, minIdleMs: number, max: number): Promise<QueueEntry[]>;
  /**
   * Acknowledges and removes entries; call only after their rows are committed. A group
   * leaves the queue (and frees its room under the cap) once every event in it is
   * acknowledged or dead-lettered; until then a crash redelivers the whole group.
   */
  ack(entryIds: readonly string[]): Promise<void>;
  /** Entries in the queue: not yet delivered plus delivered and unacknowledged. */
  depth(): Promise<number>;
  /** Moves entries to the dead-letter stream with a reason, and removes them from the queue. */
  deadLetter(entries: readonly QueueEntry[], reason: string): Promise<void>;
  /** Lists dead letters, oldest first. */
  listDeadLetters(max: number): Promise<DeadLetter[]>;
  /** Removes dead letters by id. */
  removeDeadLetters(deadIds: readonly string[]): Promise<void>;
  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
  /** Monitoring view of the queue. Optional: callers fall back to {@link depth}. */
  inspect?(): Promise<QueueInspection>;
  /** Releases connections. Pending reads resolve empty. */
  close(): Promise<void>;
}
