/** Events sealed as a producer seals them, for the parts that bypass the library. */
import { sealEvent } from '../src/core/canonical.js';
import type { AuditEvent } from '../src/core/event.js';
import { newEventId } from '../src/core/ids.js';
import { validateEvent } from '../src/core/validate.js';
import { makeInput, makeInputPool, prng } from './events.js';

/**
 * Sealed events as a producer would enqueue them (validated, id, created_at, producer
 * stamp and hash), for the limit part that bypasses the library.
 */
export function makeSealedEvents(count: number, seed = 2): AuditEvent[] {
  const rand = prng(seed);
  const producerId = newEventId();
  const now = Date.now();
  const out: AuditEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const e = validateEvent(makeInput(rand), undefined, now);
    e.producer_id = producerId;
    e.producer_seq = i + 1;
    out[i] = sealEvent(e);
  }
  return out;
}

/** Average size in bytes of the inputs as JSON, and of the sealed events as enqueued. */
export function eventSizes(sample = 1000): { inputBytes: number; sealedBytes: number } {
  const inputs = makeInputPool(sample, 3);
  const sealed = makeSealedEvents(sample, 3);
  const avg = (xs: unknown[]) =>
    Math.round(xs.reduce<number>((s, x) => s + JSON.stringify(x).length, 0) / xs.length);
  return { inputBytes: avg(inputs), sealedBytes: avg(sealed) };
}
