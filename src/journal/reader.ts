/**
 * Reads records out of segment files for replay, status and the scan at open. Keeps one
 * read window (a buffer over the rest of one segment) so a sealed segment is read from disk
 * once however many batches it is replayed in, and reports each corrupt region only once.
 */
import type { Position } from './checkpoint.js';
import { decodeAt } from './record.js';
import { readRange, type Segment } from './segments.js';
import type { CorruptionReport, JournalCounters, JournalRecord } from './types.js';

export interface ScanResult {
  records: JournalRecord[];
  count: number;
  /** Position after the last record or skipped region consumed. */
  end: Position;
  firstAt: number | null;
}

export class SegmentReader {
  private readonly reported = new Set<string>();
  private window: { segment: number; start: number; buf: Buffer } | null = null;

  constructor(
    private readonly segments: () => readonly Segment[],
    private readonly counters: JournalCounters,
    private readonly onCorruption: (r: CorruptionReport) => void,
  ) {}

  /** Releases the window (all, or only if it is over segment `num`). */
  dropWindow(num?: number): void {
    if (num === undefined || this.window?.segment === num) this.window = null;
  }

  /** Walks records from `from`; a pure read except for reporting corruption (once per region). */
  async scan(from: Position, maxRecords: number, maxBytes: number, decode: boolean): Promise<ScanResult> {
    const out: ScanResult = { records: [], count: 0, end: from, firstAt: null };
    let pos = from;
    let bytes = 0;
    while (out.count < maxRecords && bytes < maxBytes) {
      const seg = this.segments().find((s) => s.num >= pos.segment);
      if (!seg) break;
      if (seg.num !== pos.segment) pos = { segment: seg.num, offset: 0 };
      if (pos.offset >= seg.size) {
        if (!seg.sealed) break;
        pos = { segment: seg.num + 1, offset: 0 };
        out.end = pos;
        continue;
      }
      const w = await this.windowFor(seg, pos.offset);
      const item = decodeAt(w.buf, pos.offset - w.start);
      if (!item) break;
      if (item.kind === 'corrupt') {
        this.report(seg, w.start + item.offset, item.next - item.offset, item.reason);
      } else {
        out.count++;
        out.firstAt ??= item.appendedAt;
        bytes += item.next - item.payloadStart;
        if (decode) {
          out.records.push({
            payload: w.buf.toString('utf8', item.payloadStart, item.next),
            appendedAt: item.appendedAt,
            position: pos,
          });
        }
      }
      pos = { segment: seg.num, offset: w.start + item.next };
      out.end = pos;
    }
    return out;
  }

  /** A buffer covering `[offset, seg.size)`, reused while it still ends where the segment does. */
  private async windowFor(seg: Segment, offset: number): Promise<{ start: number; buf: Buffer }> {
    const w = this.window;
    if (w && w.segment === seg.num && w.start <= offset && w.start + w.buf.length === seg.size) return w;
    const buf = await readRange(seg.path, offset, seg.size);
    this.window = { segment: seg.num, start: offset, buf };
    return this.window;
  }

  private report(
    seg: Segment,
    offset: number,
    skippedBytes: number,
    reason: CorruptionReport['reason'],
  ): void {
    const key = `${seg.num}:${offset}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.counters.corruptRegions++;
    this.counters.corruptBytes += skippedBytes;
    this.onCorruption({ file: seg.path, offset, skippedBytes, reason });
  }
}
