/**
 * Samples the event stream and Redis memory while a part runs. Committed events are read
 * from Redis, not counted in PostgreSQL: workers delete an entry when they acknowledge it,
 * and acknowledge only after commit, and the queue keeps `<prefix>:counts` (events ever
 * added, events in the stream), so `added − depth` is the number of events committed so
 * far, in O(1) and without a count(*) competing with the workers for PostgreSQL. Totals are
 * checked against count(*) at the end.
 */
import type { Redis } from 'ioredis';

export interface StreamSample {
  /** ms since the sampler started */
  t: number;
  /** events in the stream (unread + pending) */
  length: number;
  added: number;
  /** added − length: acknowledged (hence committed) so far */
  committed: number;
  usedMemory: number;
}

/** `key` is the event stream, `<prefix>:events`; its counts live in `<prefix>:counts`. */
export async function streamSample(redis: Redis, key: string, t: number): Promise<StreamSample> {
  const countsKey = key.replace(/:events$/, ':counts');
  const [entries, [depth, added], mem] = await Promise.all([
    redis.xlen(key),
    redis.hmget(countsKey, 'depth', 'added'),
    redis.info('memory'),
  ]);
  // An empty stream holds no events whatever the counter says (the queue reads it so too).
  const length = entries === 0 ? 0 : Number(depth ?? 0);
  const addedN = Number(added ?? 0);
  const usedMemory = Number(/used_memory:(\d+)/.exec(mem)?.[1] ?? 0);
  return { t, length, added: addedN, committed: addedN - length, usedMemory };
}

export class StreamSampler {
  readonly samples: StreamSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private busy = false;
  private error: unknown = null;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly intervalMs = 250,
    private readonly onSample?: (s: StreamSample) => void,
  ) {}

  start(): void {
    this.t0 = performance.now();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  /** Takes one sample now (awaited), e.g. exactly at a window boundary. */
  async now(): Promise<StreamSample> {
    const s = await streamSample(this.redis, this.key, performance.now() - this.t0);
    this.samples.push(s);
    return s;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const s = await this.now();
      this.onSample?.(s);
    } catch (err) {
      this.error ??= err;
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.error) throw this.error;
  }

  peakUsedMemory(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.usedMemory), 0);
  }

  peakLength(): number {
    return this.samples.reduce((m, s) => Math.max(m, s.length), 0);
  }
}

/** No acknowledgement for this long while entries wait means the workers are stuck (e.g. every append fails). */
const STALL_MS = 30_000;

/** Waits until the stream is empty (everything committed and acknowledged). */
export async function waitForDrain(redis: Redis, key: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = -1;
  let lastProgressAt = t0;
  for (;;) {
    const s = await streamSample(redis, key, 0);
    if (s.length === 0) return performance.now() - t0;
    const now = performance.now();
    if (s.committed !== last) {
      last = s.committed;
      lastProgressAt = now;
    }
    if (now - lastProgressAt > STALL_MS) {
      throw new Error(
        `no event of ${key} committed for ${STALL_MS} ms (${s.length} waiting): are the workers failing?`,
      );
    }
    if (now - t0 > timeoutMs) {
      throw new Error(`the stream ${key} still holds ${s.length} entries after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Times a PING on a connection of its own every millisecond while a part runs: the Redis
 * round trip any client sees on this machine under that load, the floor under `log()`
 * latency (a `log()` resolves after one such round trip).
 */
export class RedisPingProbe {
  private readonly samplesUs: number[] = [];
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(private readonly redis: Redis) {}

  start(): void {
    const conn = this.redis.duplicate();
    this.running = (async () => {
      try {
        while (!this.stopping) {
          const t = performance.now();
          await conn.ping();
          this.samplesUs.push(Math.round((performance.now() - t) * 1000));
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        conn.disconnect();
      }
    })();
  }

  /** Stops and returns the round trips measured, µs. */
  async stop(): Promise<number[]> {
    this.stopping = true;
    await this.running;
    return this.samplesUs;
  }
}
