/**
 * The alert lease: whatever the number of workers, exactly one process evaluates alerts at a
 * time, so each condition notifies once rather than once per worker.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A time-bounded, renewable lock held by one named holder. */
export interface AlertLease {
  /**
   * Acquires the lease for `ttlMs` if it is free or expired, or renews it if `holder` already
   * holds it. Resolves `false` while another holder's lease is live.
   */
  tryAcquire(holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it; resolves whether it did. Never frees another's lease. */
  release(holder: string): Promise<boolean>;
}

/** In-process lease for embedded mode (one process, possibly several managers in tests). */
export class MemoryAlertLease implements AlertLease {
  #holder: string | null = null;
  #expiresAtMs = 0;
  readonly #now: () => number;

  /** @param now clock in epoch ms; injectable so expiry is testable without waiting. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** See {@link AlertLease.tryAcquire}. */
  async tryAcquire(holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    if (this.#holder !== null && this.#holder !== holder && now < this.#expiresAtMs) return false;
    this.#holder = holder;
    this.#expiresAtMs = now + ttlMs;
    return true;
  }

  /** See {@link AlertLease.release}. */
  async release(holder: string): Promise<boolean> {
    if (this.#holder !== holder || this.#now() >= this.#expiresAtMs) return false;
    this.#holder = null;
    return true;
  }
}

/*
 * Kept inline rather than as `lua/*.lua` files: the build copies only the queue's Lua
 * directory into dist/, and these are two lines each.
 *
 * renew — KEYS[1] lease key; ARGV[1] holder; ARGV[2] ttl ms. Returns 1 if the holder held
 * the lease and its TTL was reset, else 0. Compare and expire must be one atomic step, or the
 * lease could expire and be taken between them and we would extend someone else's lease.
 */
const RENEW_LUA = `local rcall = redis.call
if rcall('GET', KEYS[1]) == ARGV[1] then
  rcall('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/* release — KEYS[1] lease key; ARGV[1] holder. Returns 1 if deleted, 0 if held by another or free. */
const RELEASE_LUA = `local rcall = redis.call
if rcall('GET', KEYS[1]) == ARGV[1] then
  return rcall('DEL', KEYS[1])
end
return 0`;

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const RENEW_SHA = sha1(RENEW_LUA);
const RELEASE_SHA = sha1(RELEASE_LUA);

/**
 * Redis lease: `SET key holder NX PX ttl` takes a free lease; a compare-and-renew script
 * extends one the caller already holds; a compare-and-delete script releases it. Expiry is
 * Redis's own, so a crashed holder loses the lease after at most `ttlMs`.
 *
 * The client is the caller's (the adapter that owns the Redis connection); this class never
 * connects or disconnects it.
 */
export class RedisAlertLease implements AlertLease {
  readonly #redis: Redis;
  readonly #key: string;

  /**
   * @param redis a connected ioredis client.
   * @param key the lease key, e.g. `${keyPrefix}:alerts:lease`.
   */
  constructor(redis: Redis, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  /** See {@link AlertLease.tryAcquire}. */
  async tryAcquire(holder: string, ttlMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const set = await this.#redis.set(this.#key, holder, 'PX', ttl, 'NX');
    if (set === 'OK') return true;
    return (await this.#script(RENEW_SHA, RENEW_LUA, holder, ttl)) === 1;
  }

  /** See {@link AlertLease.release}. */
  async release(holder: string): Promise<boolean> {
    return (await this.#script(RELEASE_SHA, RELEASE_LUA, holder)) === 1;
  }

  /** Runs a script by SHA, loading it on first use (or after SCRIPT FLUSH / failover). */
  async #script(sha: string, lua: string, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#redis.evalsha(sha, 1, this.#key, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return await this.#redis.eval(lua, 1, this.#key, ...args);
    }
  }
}
