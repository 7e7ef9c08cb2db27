/**
 * The queue port on Redis Streams (Redis >= 6.2; 7 recommended): one stream of events read
 * by a consumer group, plus a dead-letter stream.
 *
 * A stream entry carries up to {@link ENTRY_MAX_EVENTS} events of one `enqueue` call (their
 * payloads joined with "\n"), not one event: per event, Redis then does a fraction of an
 * XADD, of a pending-list insert and of an XACK/XDEL instead of one of each (issue 6: Redis
 * spent ~6-8 µs of CPU per event with an entry per event). The port still speaks in events:
 * each event of an entry is delivered as its own {@link QueueEntry} (`<entry id>/<index>`),
 * and the entry is acknowledged and deleted once every event in it is committed or
 * dead-lettered. Entries are deleted when acknowledged, and the stream's event count (the
 * backlog: unread + pending) is kept beside it in `<prefix>:counts`, where the cap applies.
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
 * Most events in one stream entry. Large enough that Redis's per-entry work is negligible
 * per event, small enough that a read, which delivers whole entries, never overshoots what a
 * worker asked for by much (read-1.lua: at most max + ENTRY_MAX_EVENTS - 1 events).
 */
export const ENTRY_MAX_EVENTS = 256;

/** Per-entry bookkeeping of a multi-event entry this process holds: which events are done. */
interface OpenEntry {
  /** Events the entry holds (its `n`): what its deletion takes off the stream's count. */
  n: number;
  /** Events not yet acknowledged or dead-lettered. */
  left: number;
  done: Uint8Array;
}

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

/**
 * The `[n, body, n, body, …]` arguments of enqueue-2.lua: payloads in order, up to
 * {@link ENTRY_MAX_EVENTS} per entry, joined with "\n". A payload containing a newline
 * (never one this library serializes, but the port accepts any text) travels alone.
 */
export function packEntries(payloads: readonly string[]): (string | number)[] {
  const args: (string | number)[] = [];
  let group: string[] = [];
  const close = () => {
    if (group.length > 0)
      args.push(group.length, group.length === 1 ? (group[0] as string) : group.join('\n'));
    group = [];
  };
  for (const p of payloads) {
    if (p.includes('\n')) {
      close();
      args.push(1, p);
      continue;
    }
    group.push(p);
    if (group.length === ENTRY_MAX_EVENTS) close();
  }
  close();
  return args;
}

/** Events in the stream from XLEN and the counter: none when the stream is empty. */
function eventDepth(length: number, count: unknown): number {
  if (!(length > 0)) return 0;
  // No counter yet beside a non-empty stream: written by a version with an event per entry.
  const n = count === null || count === undefined ? length : Number(count);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

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
  /** Hash with the stream's event count (`depth`) and events ever appended (`added`). */
  readonly countsKey: string;
  readonly group: string;
  private readonly url: string;
  private readonly maxLength: number;
  private readonly pingTimeoutMs: number;
  private readonly cmd: Redis & QueueCommands;
  private readonly blocking = new Map<string, Redis>();
  /** Multi-event entries delivered to this process and not yet fully acknowledged. */
  private readonly open = new Map<string, OpenEntry>();
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
    this.countsKey = `${options.keyPrefix}:counts`;
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
      accepted = Number(
        await this.cmd.enqueue(this.streamKey, this.countsKey, this.maxLength, ...packEntries(payloads)),
      );
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
      flat = await this.cmd.reclaim(
        this.streamKey,
        this.group,
        consumer,
        Math.max(0, minIdleMs),
        max,
        ENTRY_MAX_EVENTS,
      );
    } catch (err) {
      if (isNoGroup(err)) return []; // no group, so nothing is pending
      throw unavailable('reclaim', err);
    }
    const out: QueueEntry[] = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      this.unpack(String(flat[i]), String(flat[i + 1]), Number(flat[i + 2]), Number(flat[i + 3]), out);
    }
    return out;
  }

  async ack(entryIds: readonly string[]): Promise<void> {
    this.assertOpen();
    // Whole entries to acknowledge, as [id, events it holds] pairs. An event of a
    // multi-event entry only marks itself done; its entry goes once all of them are.
    const pairs: (string | number)[] = [];
    const completed = new Set<string>();
    for (const id of entryIds) {
      const slash = id.indexOf('/');
      if (slash < 0) {
        pairs.push(id, 1);
        continue;
      }
      const streamId = id.slice(0, slash);
      const entry = this.open.get(streamId);
      // Unknown here (delivered to another process): left pending, it is reclaimed and
      // redelivered, and the store keeps one row per event.
      if (!entry) continue;
      const index = Number(id.slice(slash + 1));
      if (entry.done[index] === 0) {
        entry.done[index] = 1;
        entry.left--;
      }
      if (entry.left === 0 && !completed.has(streamId)) {
        completed.add(streamId);
        pairs.push(streamId, entry.n);
      }
    }
    try {
      for (const part of chunks(pairs, ACK_CHUNK * 2)) {
        await this.cmd.ack(this.streamKey, this.countsKey, this.group, ...part);
      }
    } catch (err) {
      throw unavailable('ack', err); // `completed` stay open: a retried ack finds them again
    }
    for (const streamId of completed) this.open.delete(streamId);
  }

  async depth(): Promise<number> {
    this.assertOpen();
    try {
      const replies = await this.cmd.pipeline().xlen(this.streamKey).hget(this.countsKey, 'depth').exec();
      const [len, count] = (replies ?? []).map(([err, v]) => {
        if (err) throw err;
        return v;
      });
      return eventDepth(Number(len), count);
    } catch (err) {
      throw unavailable('depth', err);
    }
  }

  async deadLetter(entries: readonly QueueEntry[], reason: string): Promise<void> {
    this.assertOpen();
    const firstSeen = new Date().toISOString();
    for (const part of chunks(entries, DEAD_CHUNK)) {
      const triples: (string | number)[] = [];
      // Events of multi-event entries, by entry: done once the script has copied them.
      const marks = new Map<string, number[]>();
      for (const e of part) {
        const slash = e.entryId.indexOf('/');
        if (slash < 0) {
          triples.push(e.entryId, 0, e.deliveries);
          continue;
        }
        const streamId = e.entryId.slice(0, slash);
        const index = Number(e.entryId.slice(slash + 1));
        triples.push(streamId, index, e.deliveries);
        const list = marks.get(streamId) ?? [];
        list.push(index);
        marks.set(streamId, list);
      }
      // Entries this call completes are acknowledged by the same script, atomically: a
      // separate ack that failed made the caller retry the whole dead-lettering, which
      // copied the events into the dead-letter stream a second time.
      const completes: (string | number)[] = [];
      for (const [streamId, indexes] of marks) {
        const entry = this.open.get(streamId);
        if (!entry) continue;
        const newlyDone = new Set(indexes.filter((i) => entry.done[i] === 0)).size;
        if (entry.left - newlyDone === 0) completes.push(streamId, entry.n);
      }
      try {
        await this.cmd.deadletter(
          this.streamKey,
          this.deadKey,
          this.countsKey,
          this.group,
          reason,
          firstSeen,
          triples.length / 3,
          ...triples,
          ...completes,
        );
      } catch (err) {
        throw unavailable('deadLetter', err); // nothing marked: a retry redoes this chunk
      }
      for (const [streamId, indexes] of marks) {
        const entry = this.open.get(streamId);
        if (!entry) continue;
        for (const i of indexes) {
          if (entry.done[i] === 0) {
            entry.done[i] = 1;
            entry.left--;
          }
        }
        if (entry.left === 0) this.open.delete(streamId);
      }
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
   * One pipelined round trip: XLEN of both streams and the event count, `XINFO GROUPS`
   * (its `lag` field needs Redis 7), the `XPENDING` summary and `XINFO CONSUMERS`. The
   * oldest pending age is taken from the smallest pending id's millisecond part against the
   * server's `TIME`, so the reader's clock does not matter. A missing stream or group reads
   * as empty.
   */
  async inspect(): Promise<QueueInspection> {
    this.assertOpen();
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.cmd
        .pipeline()
        .time()
        .xlen(this.streamKey)
        .hget(this.countsKey, 'depth')
        .xlen(this.deadKey)
        .call('XINFO', 'GROUPS', this.streamKey)
        .call('XPENDING', this.streamKey, this.group)
        .call('XINFO', 'CONSUMERS', this.streamKey, this.group)
        .exec();
    } catch (err) {
      throw unavailable('inspect', err);
    }
    const [time, length, count, dead, groups, pending, consumers] = (replies ?? []).map(([err, v]) => {
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
      depth: eventDepth(Number(length ?? 0), count),
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
    this.open.clear();
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
    const out: QueueEntry[] = [];
    const flat = await this.cmd.read(this.streamKey, this.group, consumer, max, ENTRY_MAX_EVENTS);
    for (let i = 0; i + 2 < flat.length; i += 3) {
      this.unpack(String(flat[i]), String(flat[i + 1]), Number(flat[i + 2]), 1, out);
    }
    if (out.length > 0 || blockMs <= 0) return out;
    // Nothing waiting: block for the next entry (one entry, at most ENTRY_MAX_EVENTS events).
    const reply = (await this.blockingConnection(consumer).call(
      'XREADGROUP',
      'GROUP',
      this.group,
      consumer,
      'COUNT',
      1,
      'BLOCK',
      Math.ceil(blockMs),
      'STREAMS',
      this.streamKey,
      '>',
    )) as [key: string, entries: [id: string, fields: string[] | null][]][] | null;
    for (const [id, fields] of reply?.[0]?.[1] ?? []) {
      // '>' only delivers live entries; fields are null only in history reads.
      if (!fields) continue;
      const f = fieldsToMap(fields);
      this.unpack(id, f.get('b') ?? f.get('e') ?? '', Number(f.get('n') ?? 1), 1, out);
    }
    return out;
  }

  /**
   * Appends the events of one stream entry to `out`: the body itself when it holds one,
   * else its "\n"-separated payloads as `<id>/<index>`, tracked until all are acknowledged.
   */
  private unpack(id: string, body: string, n: number, deliveries: number, out: QueueEntry[]): void {
    if (n <= 1) {
      out.push({ entryId: id, payload: body, deliveries });
      return;
    }
    const payloads = body.split('\n');
    // Kept if already open: this process may be re-reading an entry it had partly committed.
    if (!this.open.has(id)) {
      this.open.set(id, { n, left: payloads.length, done: new Uint8Array(payloads.length) });
    }
    for (let i = 0; i < payloads.length; i++) {
      out.push({ entryId: `${id}/${i}`, payload: payloads[i] as string, deliveries });
    }
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
