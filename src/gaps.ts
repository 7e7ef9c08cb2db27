/**
 * Gap records. When the `drop` overflow policy discards events, the loss must be visible
 * in the log itself, not only in a metric: once per interval (and on shutdown) the producer
 * writes one `audit.gap` event per category stating how many events were dropped and when.
 */
import type { AuditEventInput } from './core/event.js';

/** The event type of gap records. */
export const GAP_EVENT_TYPE = 'audit.gap';

interface Window {
  count: number;
  firstAt: number;
  lastAt: number;
  /** Dropped producer sequence numbers as inclusive [from, to] ranges (for completeness checks). */
  seqRanges: [number, number][];
}

export class GapTracker {
  private windows = new Map<string, Window>();

  /** Counts one dropped event of `category` created at `at` (ms) with producer sequence `seq`. */
  record(category: string, at: number, seq: number | null): void {
    let w = this.windows.get(category);
    if (!w) {
      w = { count: 0, firstAt: at, lastAt: at, seqRanges: [] };
      this.windows.set(category, w);
    }
    w.count++;
    w.firstAt = Math.min(w.firstAt, at);
    w.lastAt = Math.max(w.lastAt, at);
    if (seq === null) return;
    const last = w.seqRanges[w.seqRanges.length - 1];
    if (last && last[1] + 1 === seq) last[1] = seq;
    else w.seqRanges.push([seq, seq]);
  }

  get pending(): boolean {
    return this.windows.size > 0;
  }

  /** Returns one gap event per category with drops since the last call, and resets. */
  take(producerId: string): AuditEventInput[] {
    const out: AuditEventInput[] = [];
    for (const [category, w] of this.windows) {
      const from = new Date(w.firstAt).toISOString();
      const to = new Date(w.lastAt).toISOString();
      // Keep each record well under the 32 KiB metadata limit: at most 1,000 ranges each.
      const chunks: [number, number][][] = [];
      for (let i = 0; i < w.seqRanges.length; i += 1000) chunks.push(w.seqRanges.slice(i, i + 1000));
      if (chunks.length === 0) chunks.push([]);
      for (const [part, ranges] of chunks.entries()) {
        out.push({
          event_type: GAP_EVENT_TYPE,
          event_category: 'critical',
          resource_type: 'auditline.producer',
          resource_id: producerId,
          description: `${w.count} ${category} event(s) dropped by the overflow policy between ${from} and ${to}`,
          metadata: {
            dropped_category: category,
            dropped_count: part === 0 ? w.count : 0,
            window_start: from,
            window_end: to,
            producer_id: producerId,
            dropped_seq_ranges: ranges,
          },
        });
      }
    }
    this.windows.clear();
    return out;
  }
}
