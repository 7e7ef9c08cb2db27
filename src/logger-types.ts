/** The public shape of a logger; implemented in `logger.ts`. */
import type { AuditEventInput, LogResult } from './core/event.js';

export interface AuditLogger {
  /**
   * Validates, hashes and enqueues one event. Resolves once the event is durably handed
   * off (outcome `queued`, `spilled`, `direct`) or deliberately dropped (`dropped`).
   * @throws EventValidationError (code `AUDIT_ERR_INVALID_EVENT`) for invalid input; nothing is queued.
   */
  log(event: AuditEventInput): Promise<LogResult>;
  /**
   * Validates every event first; if any is invalid, throws {@link BatchValidationError} and
   * queues none of them. Otherwise enqueues all and resolves one result per event, in order.
   */
  logMany(events: readonly unknown[]): Promise<LogResult[]>;
  /** Flushes everything in flight, then releases connections. Further `log()` calls reject. */
  close(): Promise<void>;
}
