/**
 * The queue port on Redis Streams (Redis >= 6.2; 7 recommended): one stream of events read
 * by a consumer group, plus a dead-letter stream. Entries are deleted when acknowledged, so
 * XLEN is the backlog (unread + pending) and the cap applies to exactly that.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { AuditError, ErrorCodes } from '../../core/errors.js';
import type {
  DeadLetter,
  EnqueueStatus,
  QueueAdapter,
  QueueConsumer,
  QueueEntry,
  QueueInspection,
} from '../port.js';
import { defineQueueCommands, type QueueCommands } from './scripts.js';

/** Options of {@link RedisStreamsQueue}. */
export interface RedisStreamsQueueOptions {
  /** Redis URL, e.g. `redis://:secret@host:6379/0`. Never logged. */
  url: string;
  /**
   * Prefix of the two keys: `<keyPrefix>:events` and `<keyPrefix>:dead`. On Redis Cluster
   * use a hash tag (`{auditline}`): dead-lettering touches both keys in one script.
   */
  keyPrefix: string;
  /** Cap on entries in the stream (unread + delivered and unacknowledged). */
  maxLength: number;
  /** Consumer group name. Default `workers`. */
  group?: string;
  /** `ping()` rejects after this long. Default 1500 ms. */
  pingTimeoutMs?: number;
}

// Ids per round trip for ack/removal, and entries per dead-letter call: large enough that
// a worker's batch is one round trip, small enough that no single script blocks Redis long.
const ACK_CHUNK = 5000;
const DEAD_CHUNK = 1000;

/**
 * Connection options shared by both connections. The aim: a caller learns within about a
 * second or two that Redis is unreachable, so the logger can spill to its disk journal,
 * instead of commands piling up in memory until Redis returns.
 * - `maxRetriesPerRequest: 0`: on every lost connection (and every failed reconnect attempt)
 *   ioredis rejects the commands in flight and those waiting offline, rather than holding
 *   them for 20 reconnect attempts (the default). It also means nothing is silently resent
 *   after a reconnect: a resent enqueue could append its payloads twice.
 * - `enableOfflineQueue` stays on, so that commands issued before the first connection is
 *   ready (the connection is lazy) wait for it instead of failing; the flush above bounds
 *   that wait to one connection attempt.
 * - `connectTimeout` bounds that attempt on a host that drops packets (default 10 s).
 * - `retryStrategy`: reconnect quickly, backing off to 1 s.
 */
const CONNECTION_OPTIONS: RedisOptions = {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  enableOfflineQueue: true,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2000,
  retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
};

function unavailable(op: string, err: unknown): AuditError {
  const why = err instanceof Error ? err.message : String(err);
  return new AuditError(ErrorCodes.QUEUE_UNAVAILABLE, `queue ${op} failed: ${why}`, { cause: err });
}

const isNoGroup = (err: unknown): boolean => err instanceof Error && err.message.includes('NOGROUP');

function fieldsToMap(fields: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (!Array.isArray(fields)) return m;
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(String(fields[i]), String(fields[i + 1]));
  return m;
}

/** A flat `[field, value, field, value, …]` reply (XINFO) as a map. */
function flatToRecord(reply: unknown): Map<string, unknown> {
  const m = new Map<string, unknown>();
  if (!Array.isArray(reply)) return m;
  for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1]);
  return m;
}

const numOrNull = (v: unknown): number | null =>
  v === null || v === undefined || v === '' || Number.isNaN(Number(v)) ? null : Number(v);

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * {@link QueueAdapter} on Redis Streams. Owns one connection for ordinary commands and,
 * per consumer name, one for blocking reads (a connection blocked in XREADGROUP cannot
 * serve acks meanwhile). No I/O happens until the first call.
 */
export class RedisStreamsQueue implements QueueAdapter {
  readonly streamKey: string;
  readonly deadKey: string;
  readonly group: string;
  private readonly url: string;
  private readonly maxLength: number;
  private readonly pingTimeoutMs: number;
  private readonly cmd: Redis & QueueCommands;
  private readonly blocking = new Map<string, Redis>();
  private lastError: string | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: RedisStreamsQueueOptions) {
    if (!Number.isInteger(options.maxLength) || options.maxLength < 1) {
      throw new RangeError(`maxLength must be a positive integer, got ${options.maxLength}`);
    }
    this.url = options.url;
    this.maxLength = options.maxLength;
    this.streamKey = `${options.keyPrefix}:events`;
    this.deadKey = `${options.keyPrefix}:dead`;
    this.group = options.group ?? 'workers';
    this.pingTimeoutMs = options.pingTimeoutMs ?? 1500;
    this.cmd = defineQueueCommands(this.connect());
  }

  async init(): Promise<void> {
    this.assertOpen();
    try {
      await this.cmd.xgroup('CREATE', this.streamKey, this.group, '0', 'MKSTREAM');
    } catch (err) {
      // Another process created it first: exactly the state we wanted.
      if (err instanceof Error && err.message.startsWith('BUSYGROUP')) return;
      throw unavailable('init', err);
    }
  }

  async enqueue(payloads: readonly string[]): Promise<EnqueueStatus[]> {
    this.assertOpen();
    if (payloads.length === 0) return [];
    let accepted: number;
    try {
      accepted = Number(await this.cmd.enqueue(this.streamKey, this.maxLength, ...payloads));
    } catch (err) {
      throw unavailable('enqueue', err);
    }
    return payloads.map((_, i) => (i < accepted ? 'queued' : 'full'));
  }

  async read(consumer: string, max: number, blockMs: number): Promise<QueueEntry[]> {
    if (this.closing || max < 1) return [];
    try {
      return await this.readOnce(consumer, max, blockMs);
    } catch (err) {
      if (this.closing) return []; // close() disconnected a blocked read
      if (!isNoGroup(err)) throw unavailable('read', err);
    }
    // The stream or group vanished (FLUSHALL, a manual DEL): recreate it and read again.
    try {
      await this.init();
    } catch (err) {
      if (this.closing) return [];
      throw err;
    }
    try {
      return await this.readOnce(consumer, max, blockMs);
    } catch (err) {
      if (this.closing) return [];
      throw unavailable('read', err);
    }
  }

  async reclaim(consumer: string, minIdleMs: number, max: number): Promise<QueueEntry[]> {
    if (this.closing || max < 1) return [];
    let flat: (string | number)[];
    try {
      flat = await this.cmd.reclaim(this.streamKey, this.group, consumer, Math.max(0, minIdleMs), max);
    } catch (err) {
      if (isNoGroup(err)) return []; // no group, so nothing is pending
      throw unavailable('reclaim', err);
    }
    const out: QueueEntry[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({ entryId: String(flat[i]), payload: String(flat[i + 1]), deliveries: Number(flat[i + 2]) });
    }
    return out;
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    this.assertOpen();
    try {
      for (const ids of chunks(entryIds, ACK_CHUNK)) await this.cmd.ack(this.streamKey, this.group, ...ids);
    } catch (err) {
      throw unavailable('ack', err);
    }
  }

  async depth(): Promise<number> {
    this.assertOpen();
    try {
      return await this.cmd.xlen(this.streamKey);
    } catch (err) {
      throw unavailable('depth', err);
    }
  }

  async deadLetter(entries: readonly QueueEntry[], reason: string): Promise<void> {
    this.assertOpen();
    const firstSeen = new Date().toISOString();
    try {
      for (const part of chunks(entries, DEAD_CHUNK)) {
        const pairs = part.flatMap((e) => [e.entryId, e.deliveries]);
        await this.cmd.deadletter(this.streamKey, this.deadKey, this.group, reason, firstSeen, ...pairs);
      }
    } catch (err) {
      throw unavailable('deadLetter', err);
    }
  }

  async listDeadLetters(max: number): Promise<DeadLetter[]> {
    this.assertOpen();
    if (max < 1) return [];
    let rows: [id: string, fields: string[]][];
    try {
      rows = await this.cmd.xrange(this.deadKey, '-', '+', 'COUNT', max);
    } catch (err) {
      throw unavailable('listDeadLetters', err);
    }
    return rows.map(([deadId, fields]) => {
      const f = fieldsToMap(fields);
      return {
        deadId,
        payload: f.get('payload') ?? '',
        reason: f.get('reason') ?? '',
        deliveries: Number(f.get('deliveries') ?? 0),
        firstSeenAt: f.get('first_seen') ?? '',
      };
    });
  }

  async removeDeadLetters(deadIds: readonly string[]): Promise<void> {
    this.assertOpen();
    try {
      for (const ids of chunks(deadIds, ACK_CHUNK)) await this.cmd.xdel(this.deadKey, ...ids);
    } catch (err) {
      throw unavailable('removeDeadLetters', err);
    }
  }

  async ping(): Promise<void> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const reply = this.cmd.ping();
    // The race below may abandon the command; its later rejection must not go unhandled.
    reply.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.lastError ? ` (last error: ${this.lastError})` : '';
        reject(new AuditError(ErrorCodes.QUEUE_UNAVAILABLE, `queue ping timed out${last}`));
      }, this.pingTimeoutMs);
    });
    try {
      await Promise.race([reply, timeout]);
    } catch (err) {
      throw err instanceof AuditError ? err : unavailable('ping', err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One pipelined round trip: XLEN of both streams, `XINFO GROUPS` (its `lag` field needs
   * Redis 7), the `XPENDING` summary and `XINFO CONSUMERS`. The oldest pending age is taken
   * from the smallest pending id's millisecond part against the server's `TIME`, so the
   * reader's clock does not matter. A missing stream or group reads as empty.
   */
  async inspect(): Promise<QueueInspection> {
    this.assertOpen();
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.cmd
        .pipeline()
        .time()
        .xlen(this.streamKey)
        .xlen(this.deadKey)
        .call('XINFO', 'GROUPS', this.streamKey)
        .call('XPENDING', this.streamKey, this.group)
        .call('XINFO', 'CONSUMERS', this.streamKey, this.group)
        .exec();
    } catch (err) {
      throw unavailable('inspect', err);
    }
    const [time, depth, dead, groups, pending, consumers] = (replies ?? []).map(([err, v]) => {
      // A connection failure fails every command; NOGROUP / no such key only means "empty".
      if (err && !/NOGROUP|no such key/i.test(err.message)) throw unavailable('inspect', err);
      return err ? null : v;
    });
    const [sec, usec] = Array.isArray(time) ? time.map(Number) : [Date.now() / 1000, 0];
    const nowMs = (sec ?? 0) * 1000 + Math.floor((usec ?? 0) / 1000);
    const group = (Array.isArray(groups) ? groups : [])
      .map(flatToRecord)
      .find((g) => String(g.get('name')) === this.group);
    const summary = Array.isArray(pending) ? pending : [];
    const minId = typeof summary[1] === 'string' ? summary[1] : null;
    const list: QueueConsumer[] = (Array.isArray(consumers) ? consumers : []).map((c) => {
      const f = flatToRecord(c);
      return {
        name: String(f.get('name')),
        pending: Number(f.get('pending') ?? 0),
        idleMs: Number(f.get('idle') ?? 0),
      };
    });
    return {
      depth: Number(depth ?? 0),
      pending: Number(summary[0] ?? 0),
      lag: group ? numOrNull(group.get('lag')) : null,
      oldestPendingAgeMs: minId ? Math.max(0, nowMs - Number(minId.split('-')[0])) : null,
      deadLetters: Number(dead ?? 0),
      consumers: list,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Blocked reads hold their connection until BLOCK expires: cut them off; read() sees
    // `closing` and resolves empty.
    for (const conn of this.blocking.values()) conn.disconnect();
    this.blocking.clear();
    if (this.cmd.status === 'ready') {
      // QUIT lets commands already sent finish; bounded in case the server stopped answering.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.cmd.quit().catch(() => {}),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 1000);
        }),
      ]);
      clearTimeout(timer);
    }
    this.cmd.disconnect();
  }

  private async readOnce(consumer: string, max: number, blockMs: number): Promise<QueueEntry[]> {
    // BLOCK 0 would wait forever: a zero wait is a plain, non-blocking read.
    const block = blockMs > 0 ? ['BLOCK', Math.ceil(blockMs)] : [];
    const conn = blockMs > 0 ? this.blockingConnection(consumer) : this.cmd;
    const reply = (await conn.call(
      'XREADGROUP',
      'GROUP',
      this.group,
      consumer,
      'COUNT',
      max,
      ...block,
      'STREAMS',
      this.streamKey,
      '>',
    )) as [key: string, entries: [id: string, fields: string[] | null][]][] | null;
    const out: QueueEntry[] = [];
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      // '>' only delivers live entries; fields are null only in history reads.
      if (fields) out.push({ entryId: id, payload: fieldsToMap(fields).get('e') ?? '', deliveries: 1 });
    }
    return out;
  }

  private blockingConnection(consumer: string): Redis {
    let conn = this.blocking.get(consumer);
    if (this.closing) throw new AuditError(ErrorCodes.CLOSED, 'queue is closed');
    if (!conn) {
      conn = this.connect();
      this.blocking.set(consumer, conn);
    }
    return conn;
  }

  private connect(): Redis {
    const conn = new Redis(this.url, CONNECTION_OPTIONS);
    // Errors reach callers through rejected commands; without a listener ioredis would
    // print every reconnect failure to stderr. Only the message is kept (it names the host,
    // never the password) for ping()'s diagnostic.
    conn.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    return conn;
  }

  private assertOpen(): void {
    if (this.closing) throw new AuditError(ErrorCodes.CLOSED, 'queue is closed');
  }
}
