/**
 * The two {@link MetricsStore}s: Redis (distributed mode; every process of a deployment
 * shares it) and process memory (embedded mode; one process).
 *
 * Redis keys, under the configured prefix:
 * - `<prefix>:metrics:proc:<name>` — hash, one field per snapshot property (JSON values),
 *   expiring `ttlMs` after the last heartbeat: a crashed process disappears by itself.
 * - `<prefix>:metrics:procs` — sorted set of process names scored by last heartbeat, so
 *   readers find every snapshot without `SCAN`; names long gone are trimmed on publish.
 * - `<prefix>:metrics:counters` — hash of lifetime counters, only ever `HINCRBY`'d.
 * - `<prefix>:alerts:active` — JSON list of alerts that are on, written by the lease holder.
 */
import { Redis } from 'ioredis';
import type { CounterValues, MetricsStore, ProcessSnapshot, PublishedAlert } from './types.js';

/** Index entries older than this many TTLs are removed: their hashes expired long ago. */
const INDEX_TRIM_TTLS = 10;

function parseSnapshot(fields: Record<string, string>): ProcessSnapshot | null {
  if (!fields.name) return null;
  try {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) out[k] = JSON.parse(v);
    return out as unknown as ProcessSnapshot;
  } catch {
    return null; // a half-written or foreign hash: ignore rather than fail the whole read
  }
}

/** Options of {@link RedisMetricsStore}. */
export interface RedisMetricsStoreOptions {
  /** Redis URL; the store opens its own lazy connection. Never logged. */
  url: string;
  keyPrefix: string;
}

/** {@link MetricsStore} on Redis. Owns one connection, opened on first use. */
export class RedisMetricsStore implements MetricsStore {
  /** The store's connection; the alert lease shares it rather than opening another. */
  readonly redis: Redis;
  private readonly prefix: string;
  private readonly indexKey: string;
  private readonly countersKey: string;
  private readonly alertsKey: string;

  constructor(options: RedisMetricsStoreOptions) {
    // Fail fast like the queue's connection: a metrics call must never hang a worker.
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    });
    this.redis.on('error', () => {}); // failures surface as rejected commands
    this.prefix = options.keyPrefix;
    this.indexKey = `${options.keyPrefix}:metrics:procs`;
    this.countersKey = `${options.keyPrefix}:metrics:counters`;
    this.alertsKey = `${options.keyPrefix}:alerts:active`;
  }

  /** Key of one process's snapshot hash. */
  processKey(name: string): string {
    return `${this.prefix}:metrics:proc:${name}`;
  }

  async publish(snapshot: ProcessSnapshot, deltas: CounterValues, ttlMs: number): Promise<void> {
    const key = this.processKey(snapshot.name);
    const fields = Object.entries(snapshot).flatMap(([k, v]) => [k, JSON.stringify(v)]);
    const tx = this.redis
      .multi()
      .hset(key, ...fields)
      .pexpire(key, Math.max(1, Math.ceil(ttlMs)))
      .zadd(this.indexKey, snapshot.heartbeatAt, snapshot.name)
      .zremrangebyscore(this.indexKey, '-inf', snapshot.heartbeatAt - INDEX_TRIM_TTLS * ttlMs);
    for (const [field, n] of Object.entries(deltas)) tx.hincrby(this.countersKey, field, n);
    await execOrThrow(tx);
  }

  async retire(name: string, deltas: CounterValues): Promise<void> {
    const tx = this.redis.multi().del(this.processKey(name)).zrem(this.indexKey, name);
    for (const [field, n] of Object.entries(deltas)) tx.hincrby(this.countersKey, field, n);
    await execOrThrow(tx);
  }

  async processes(): Promise<ProcessSnapshot[]> {
    const names = await this.redis.zrange(this.indexKey, 0, -1);
    if (names.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const n of names) pipe.hgetall(this.processKey(n));
    const replies = (await pipe.exec()) ?? [];
    const out: ProcessSnapshot[] = [];
    replies.forEach(([err, fields]) => {
      if (err) throw err;
      const s = parseSnapshot(fields as Record<string, string>);
      if (s) out.push(s);
    });
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async counters(): Promise<CounterValues> {
    const raw = await this.redis.hgetall(this.countersKey);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  async publishAlerts(alerts: readonly PublishedAlert[], ttlMs: number): Promise<void> {
    await this.redis.set(this.alertsKey, JSON.stringify(alerts), 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async alerts(): Promise<PublishedAlert[]> {
    const raw = await this.redis.get(this.alertsKey);
    return raw ? (JSON.parse(raw) as PublishedAlert[]) : [];
  }

  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => {});
    this.redis.disconnect();
  }
}

async function execOrThrow(tx: ReturnType<Redis['multi']>): Promise<void> {
  const replies = await tx.exec();
  for (const [err] of replies ?? []) if (err) throw err;
}

/** {@link MetricsStore} in process memory for embedded mode; expiry is checked on read. */
export class MemoryMetricsStore implements MetricsStore {
  private readonly procs = new Map<string, { snapshot: ProcessSnapshot; expiresAt: number }>();
  private readonly totals: CounterValues = {};
  private active: { alerts: PublishedAlert[]; expiresAt: number } | null = null;

  /** @param now clock in epoch ms; injectable for tests. */
  constructor(private readonly now: () => number = Date.now) {}

  async publish(snapshot: ProcessSnapshot, deltas: CounterValues, ttlMs: number): Promise<void> {
    this.procs.set(snapshot.name, { snapshot: structuredClone(snapshot), expiresAt: this.now() + ttlMs });
    this.add(deltas);
  }

  async retire(name: string, deltas: CounterValues): Promise<void> {
    this.procs.delete(name);
    this.add(deltas);
  }

  async processes(): Promise<ProcessSnapshot[]> {
    const now = this.now();
    const out: ProcessSnapshot[] = [];
    for (const [name, p] of this.procs) {
      if (p.expiresAt <= now) this.procs.delete(name);
      else out.push(structuredClone(p.snapshot));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async counters(): Promise<CounterValues> {
    return { ...this.totals };
  }

  async publishAlerts(alerts: readonly PublishedAlert[], ttlMs: number): Promise<void> {
    this.active = { alerts: structuredClone([...alerts]), expiresAt: this.now() + ttlMs };
  }

  async alerts(): Promise<PublishedAlert[]> {
    if (!this.active || this.active.expiresAt <= this.now()) return [];
    return structuredClone(this.active.alerts);
  }

  async close(): Promise<void> {}

  private add(deltas: CounterValues): void {
    for (const [k, n] of Object.entries(deltas)) this.totals[k] = (this.totals[k] ?? 0) + n;
  }
}
