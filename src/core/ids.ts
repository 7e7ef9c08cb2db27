/** Event ids: UUIDv7 (time-ordered, so index inserts stay append-mostly). */
import { v7 } from 'uuid';

/** A new UUIDv7, monotonic within this process. */
export function newEventId(): string {
  return v7();
}
