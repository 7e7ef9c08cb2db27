/**
 * Completeness (`auditline verify --completeness`): each logger stamps `producer_id` and a
 * sequence number that increases by one per event, so a missing number between the lowest and
 * highest stored is an event lost between the application and the database, unless an
 * `audit.gap` record (written by the drop overflow policy) lists it as dropped.
 *
 * Events still in the queue or the journal are not stored yet and look like a gap until a
 * worker writes them: run the check on a drained system, or read recent gaps with that in mind.
 */
import type { StoreAdapter } from '../store/port.js';

/** One producer's result. */
export interface ProducerCompleteness {
  producer_id: string;
  min_seq: number;
  max_seq: number;
  stored: number;
  /** Inclusive ranges no gap record accounts for. */
  unexplained: [number, number][];
  /** Inclusive missing ranges a gap record accounts for. */
  explained: [number, number][];
}

export interface CompletenessReport {
  ok: boolean;
  producers: ProducerCompleteness[];
}

/** `[from, to]` minus the union of `cover`, as sorted inclusive ranges. */
export function subtractRanges(
  from: number,
  to: number,
  cover: readonly [number, number][],
): [number, number][] {
  const sorted = [...cover].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  let next = from;
  for (const [a, b] of sorted) {
    if (b < next || a > to) continue;
    if (a > next) out.push([next, Math.min(a - 1, to)]);
    next = Math.max(next, b + 1);
    if (next > to) break;
  }
  if (next <= to) out.push([next, to]);
  return out;
}

/** Per producer, the sequence gaps and which of them gap records explain. */
export async function checkCompleteness(store: Pick<StoreAdapter, 'integrity'>): Promise<CompletenessReport> {
  const facts = await store.integrity.sequenceFacts();
  const cover = new Map<string, [number, number][]>();
  for (const e of facts.explained) {
    const list = cover.get(e.producer_id) ?? [];
    list.push(...e.ranges);
    cover.set(e.producer_id, list);
  }
  const producers: ProducerCompleteness[] = facts.producers.map((p) => ({
    producer_id: p.producer_id,
    min_seq: p.min,
    max_seq: p.max,
    stored: p.count,
    unexplained: [],
    explained: [],
  }));
  const byId = new Map(producers.map((p) => [p.producer_id, p]));
  for (const g of facts.gaps) {
    const p = byId.get(g.producer_id);
    if (!p) continue;
    const left = subtractRanges(g.from, g.to, cover.get(g.producer_id) ?? []);
    p.unexplained.push(...left);
    const leftCount = left.reduce((n, [a, b]) => n + b - a + 1, 0);
    if (leftCount < g.to - g.from + 1) {
      p.explained.push(...subtractRanges(g.from, g.to, left));
    }
  }
  return { ok: producers.every((p) => p.unexplained.length === 0), producers };
}
