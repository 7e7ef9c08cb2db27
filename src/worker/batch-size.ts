/**
 * Adaptive batch size. The seed used a fixed ladder on backlog (100/300/1,000 at
 * 1K/5K/10K queued). We keep that ladder as a floor — a deep backlog always gets big
 * batches — and steer above it by measured flush latency: batches grow while a full batch
 * commits faster than the target, and shrink when a flush takes much longer (PostgreSQL
 * is struggling; smaller transactions hold locks and memory for less time).
 */

export interface BatchSizerOptions {
  minSize: number;
  maxSize: number;
  /** Flush latency the sizer steers towards. */
  targetFlushMs: number;
}

/** The seed's ladder: the minimum batch size for a given backlog. */
export function ladderFloor(backlog: number): number {
  if (backlog >= 10_000) return 1000;
  if (backlog >= 5_000) return 300;
  if (backlog >= 1_000) return 100;
  return 1;
}

export class BatchSizer {
  private size: number;
  private backlog = 0;

  constructor(private readonly opts: BatchSizerOptions) {
    this.size = opts.minSize;
  }

  /** The number of events to ask the queue for next. */
  current(): number {
    const floor = Math.min(this.opts.maxSize, ladderFloor(this.backlog));
    return Math.max(this.size, floor, this.opts.minSize);
  }

  /** Records the queue depth last observed. */
  observeBacklog(depth: number): void {
    this.backlog = depth;
  }

  /**
   * Records one flush: `count` events committed in `elapsedMs`, out of a batch limit of `limit`.
   * Additive growth would take minutes to climb from 100 to 5,000, so growth is
   * multiplicative; shrinking is multiplicative too, as in TCP congestion control.
   */
  observeFlush(count: number, limit: number, elapsedMs: number): void {
    const { minSize, maxSize, targetFlushMs } = this.opts;
    if (elapsedMs > 2 * targetFlushMs) {
      this.size = Math.max(minSize, Math.floor(this.size * 0.7));
    } else if (count >= limit && elapsedMs < targetFlushMs) {
      this.size = Math.min(maxSize, Math.ceil(Math.max(this.size, limit) * 1.5));
    }
  }
}
