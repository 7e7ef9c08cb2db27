/**
 * The queue port's conformance suite: every adapter runs the same cases (the port's doc
 * comments are the contract). Redis tests use the real server, each under its own key
 * prefix. A few Redis-only cases (keys, scripts, outages) follow the shared suite.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { ErrorCodes } from '../../src/core/errors.js';
import { createQueue, DurableMemoryQueue, MemoryQueue, RedisStreamsQueue } from '../../src/queue/index.js';
import type { QueueAdapter, QueueEntry } from '../../src/queue/port.js';
import { ENTRY_MAX_EVENTS, packEntries } from '../../src/queue/redis/redis-streams-queue.js';
import { loadScripts } from '../../src/queue/redis/scripts.js';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/env.js';

interface Fixture {
  queue: QueueAdapter;
  /** Another adapter on the same queue, as a second process would open it. */
  peer(): Promise<QueueAdapter>;
  dispose(): Promise<void>;
}

interface Backend {
  name: string;
  open(maxLength: number): Promise<Fixture>;
}

const memory: Backend = {
  name: 'memory',
  async open(maxLength) {
    const queue = new MemoryQueue({ maxLength });
    await queue.init();
    // One process: every "peer" is the same queue.
    return { queue, peer: async () => queue, dispose: () => queue.close() };
  },
};

const durable: Backend = {
  name: 'durable (journaled in-process)',
  async open(maxLength) {
    const dir = await mkdtemp(join(tmpdir(), 'auditline-queue-'));
    const queue = new DurableMemoryQueue({ dir, maxLength });
    await queue.init();
    // One process (the journal lock admits one): every "peer" is the same queue.
    return {
      queue,
      peer: async () => queue,
      async dispose() {
        await queue.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

const redis: Backend = {
  name: 'redis',
  async open(maxLength) {
    const prefix = uniquePrefix('queue');
    const opened: RedisStreamsQueue[] = [];
    const make = async () => {
      const q = new RedisStreamsQueue({ url: REDIS_URL, keyPrefix: prefix, maxLength });
      opened.push(q);
      await q.init();
      return q;
    };
    const queue = await make();
    return {
      queue,
      peer: make,
      async dispose() {
        await Promise.all(opened.map((q) => q.close()));
        await dropPrefix(prefix);
      },
    };
  },
};

async function withQueue(b: Backend, maxLength: number, fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await b.open(maxLength);
  try {
    await fn(f);
  } finally {
    await f.dispose();
  }
}

const texts = (n: number, tag = 'p') => Array.from({ length: n }, (_, i) => JSON.stringify({ tag, i }));
const payloadsOf = (entries: readonly QueueEntry[]) => entries.map((e) => e.payload);

/**
 * One enqueue call per payload. An adapter may keep the payloads of one call together (Redis
 * stores them in one stream entry, delivered and removed as a whole); tests about single
 * events use this so that every payload is its own group on every adapter.
 */
async function enqueueEach(queue: QueueAdapter, payloads: readonly string[]): Promise<void> {
  for (const p of payloads) await queue.enqueue([p]);
}
const count = <T>(xs: readonly T[], x: T) => xs.filter((y) => y === x).length;

for (const backend of [memory, durable, redis]) {
  describe(`queue conformance: ${backend.name}`, () => {
    it('enqueues nothing for an empty array', () =>
      withQueue(backend, 10, async ({ queue }) => {
        assert.deepEqual(await queue.enqueue([]), []);
        assert.equal(await queue.depth(), 0);
      }));

    it('init is idempotent and safe to race, and does not reset the queue', () =>
      withQueue(backend, 10, async ({ queue, peer }) => {
        const peers = await Promise.all([peer(), peer(), peer()]);
        await Promise.all([queue.init(), ...peers.map((p) => p.init())]);
        await queue.enqueue(['a']);
        await Promise.all(peers.map((p) => p.init()));
        assert.equal(await queue.depth(), 1);
        assert.deepEqual(payloadsOf(await queue.read('c1', 10, 0)), ['a']);
      }));

    it('caps the queue exactly and atomically under many concurrent enqueuers', () =>
      withQueue(backend, 300, async ({ queue, peer }) => {
        // Several connections, so the enqueues really interleave on the server.
        const producers = [queue, ...(await Promise.all([peer(), peer(), peer(), peer()]))];
        const batches = Array.from({ length: 20 }, (_, c) => texts(50, `caller${c}`));
        const results = await Promise.all(batches.map((b, c) => producers[c % producers.length]!.enqueue(b)));
        const statuses = results.flat();
        assert.equal(count(statuses, 'queued'), 300);
        assert.equal(count(statuses, 'full'), 700);
        for (const r of results) {
          // Within one call, payloads are accepted in order while there is room.
          const firstFull = r.indexOf('full');
          if (firstFull >= 0) assert.equal(r.indexOf('queued', firstFull), -1);
        }
        assert.equal(await queue.depth(), 300);
        assert.deepEqual(await queue.enqueue(['late']), ['full']);
        // Exactly the accepted payloads are in the queue: nothing lost, nothing extra.
        const accepted = batches.flatMap((b, c) => b.filter((_, i) => results[c]![i] === 'queued'));
        const delivered = await queue.read('c1', 1000, 0);
        assert.deepEqual(payloadsOf(delivered).sort(), accepted.sort());
        // Acknowledging frees exactly that much room.
        await queue.ack(delivered.map((e) => e.entryId));
        assert.equal(await queue.depth(), 0);
        const more = await queue.enqueue(texts(315, 'more'));
        assert.deepEqual(more, [...Array(300).fill('queued'), ...Array(15).fill('full')]);
      }));

    it('counts delivered but unacknowledged entries against the cap', () =>
      withQueue(backend, 3, async ({ queue }) => {
        await queue.enqueue(['a', 'b', 'c']);
        assert.equal((await queue.read('c1', 10, 0)).length, 3);
        assert.deepEqual(await queue.enqueue(['d']), ['full']);
      }));

    it('preserves order within one enqueue and across sequential enqueues', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await queue.enqueue(texts(5, 'first'));
        await queue.enqueue(texts(5, 'second'));
        await queue.enqueue(['last']);
        const got = await queue.read('c1', 100, 0);
        assert.deepEqual(payloadsOf(got), [...texts(5, 'first'), ...texts(5, 'second'), 'last']);
        assert.equal(new Set(got.map((e) => e.entryId)).size, got.length);
        assert.ok(got.every((e) => e.deliveries === 1));
      }));

    it('delivers payloads exactly as enqueued', () =>
      withQueue(backend, 10, async ({ queue }) => {
        const odd = ['', 'line\nbreak\ttab', 'ünïcødé 🙂 中文', '"quoted" \\ back', 'x'.repeat(256 * 1024)];
        await queue.enqueue(odd);
        assert.deepEqual(payloadsOf(await queue.read('c1', 10, 0)), odd);
      }));

    it('read returns at most max entries and nothing once the queue is drained', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await enqueueEach(queue, texts(10));
        assert.deepEqual(payloadsOf(await queue.read('c1', 3, 0)), texts(10).slice(0, 3));
        assert.deepEqual(payloadsOf(await queue.read('c1', 3, 100)), texts(10).slice(3, 6));
        assert.deepEqual(payloadsOf(await queue.read('c2', 100, 0)), texts(10).slice(6));
        assert.deepEqual(await queue.read('c1', 100, 0), []);
        assert.deepEqual(await queue.read('c1', 100, 50), []);
      }));

    it('a blocked read wakes up when an entry arrives', { timeout: 15_000 }, () =>
      withQueue(backend, 10, async ({ queue, peer }) => {
        const producer = await peer();
        let settled = false;
        const reading = queue.read('c1', 10, 60_000);
        reading.then(
          () => (settled = true),
          () => (settled = true),
        );
        await sleep(200);
        assert.equal(settled, false, 'read waits while the queue is empty');
        await producer.enqueue(['wake']);
        const got = await reading; // long before the 60 s block expires (see the test timeout)
        assert.deepEqual(payloadsOf(got), ['wake']);
        assert.equal(got[0]!.deliveries, 1);
      }),
    );

    it('entries arriving for several blocked readers go to exactly one each', { timeout: 15_000 }, () =>
      withQueue(backend, 10, async ({ queue, peer }) => {
        const [other, producer] = await Promise.all([peer(), peer()]);
        const readers = [queue.read('a', 2, 5_000), other.read('b', 2, 5_000)];
        await sleep(200);
        await enqueueEach(producer, ['x', 'y', 'z']);
        const got = [...(await Promise.all(readers)).flat(), ...(await queue.read('c', 10, 0))];
        assert.deepEqual(payloadsOf(got).sort(), ['x', 'y', 'z']);
        assert.equal(new Set(got.map((e) => e.entryId)).size, 3);
      }),
    );

    it('acknowledged entries are removed and never redelivered', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await enqueueEach(queue, texts(5));
        const got = await queue.read('c1', 10, 0);
        assert.equal(await queue.depth(), 5);
        await queue.ack(got.slice(0, 3).map((e) => e.entryId));
        assert.equal(await queue.depth(), 2);
        await queue.ack([got[0]!.entryId]); // acking twice is harmless
        assert.equal(await queue.depth(), 2);
        assert.deepEqual(await queue.read('c2', 10, 0), []);
        await sleep(5);
        const reclaimed = await queue.reclaim('c2', 0, 10);
        assert.deepEqual(payloadsOf(reclaimed), texts(5).slice(3));
        await queue.ack(reclaimed.map((e) => e.entryId));
        assert.equal(await queue.depth(), 0);
        assert.deepEqual(await queue.reclaim('c3', 0, 10), []);
      }));

    it('acks a large id list', () =>
      withQueue(backend, 20_000, async ({ queue }) => {
        await queue.enqueue(texts(12_000));
        const got = await queue.read('c1', 12_000, 0);
        assert.equal(got.length, 12_000);
        await queue.ack(got.map((e) => e.entryId));
        assert.equal(await queue.depth(), 0);
      }));

    it('reclaims unacknowledged entries only after minIdleMs, counting deliveries', () =>
      withQueue(backend, 100, async ({ queue, peer }) => {
        const other = await peer();
        await queue.enqueue(texts(3));
        await queue.read('crashed', 10, 0);
        assert.deepEqual(await other.reclaim('rescuer', 60_000, 10), [], 'not idle long enough');
        // Margins are wide (idle 300 ms vs a 250 ms threshold) so a busy machine cannot flip them.
        await sleep(300);
        const first = await other.reclaim('rescuer', 250, 10);
        assert.deepEqual(payloadsOf(first), texts(3));
        assert.deepEqual(
          first.map((e) => e.deliveries),
          [2, 2, 2],
        );
        // Claiming resets the idle time: the rescuer now holds them, fresh.
        assert.deepEqual(await queue.reclaim('third', 250, 10), []);
        await sleep(300);
        const second = await queue.reclaim('third', 250, 10);
        assert.deepEqual(
          second.map((e) => [e.entryId, e.deliveries]),
          first.map((e) => [e.entryId, 3]),
        );
        assert.equal(await queue.depth(), 3);
      }));

    it('reclaim returns at most max entries, oldest first', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await enqueueEach(queue, texts(10));
        await queue.read('crashed', 10, 0);
        await sleep(60);
        assert.deepEqual(payloadsOf(await queue.reclaim('r', 30, 4)), texts(10).slice(0, 4));
        assert.deepEqual(payloadsOf(await queue.reclaim('r', 30, 100)), texts(10).slice(4));
      }));

    it('two consumers reading concurrently never receive the same entry', () =>
      withQueue(backend, 1000, async ({ queue, peer }) => {
        const other = await peer();
        await queue.enqueue(texts(400));
        const seen: QueueEntry[][] = [[], []];
        const consume = async (q: QueueAdapter, name: string, into: QueueEntry[]) => {
          for (;;) {
            const got = await q.read(name, 7, 20);
            if (got.length === 0) return;
            into.push(...got);
          }
        };
        await Promise.all([consume(queue, 'a', seen[0]!), consume(other, 'b', seen[1]!)]);
        const all = seen.flat();
        assert.equal(all.length, 400);
        assert.equal(new Set(all.map((e) => e.entryId)).size, 400);
        assert.deepEqual(payloadsOf(all).sort(), texts(400).sort());
      }));

    it('dead-letters entries with reason and deliveries; list and remove work', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await enqueueEach(queue, ['a', 'b', 'c']);
        const [a, , c] = await queue.read('c1', 10, 0);
        const before = Date.now();
        await queue.deadLetter([a!, c!], 'poison: invalid row');
        assert.equal(await queue.depth(), 1);
        await sleep(5);
        assert.deepEqual(payloadsOf(await queue.reclaim('c2', 0, 10)), ['b'], 'dead letters left the queue');
        const dead = await queue.listDeadLetters(10);
        assert.deepEqual(
          dead.map((d) => [d.payload, d.reason, d.deliveries]),
          [
            ['a', 'poison: invalid row', 1],
            ['c', 'poison: invalid row', 1],
          ],
        );
        for (const d of dead) {
          assert.match(d.firstSeenAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          assert.ok(Date.parse(d.firstSeenAt) >= before - 1000);
        }
        assert.equal((await queue.listDeadLetters(1)).length, 1);
        await queue.removeDeadLetters([dead[0]!.deadId]);
        assert.deepEqual(
          (await queue.listDeadLetters(10)).map((d) => d.payload),
          ['c'],
        );
      }));

    it('dead-letters a reclaimed entry with its delivery count, never an acknowledged one', () =>
      withQueue(backend, 100, async ({ queue }) => {
        await enqueueEach(queue, ['poison', 'fine']);
        const [poison, fine] = await queue.read('c1', 10, 0);
        await queue.ack([fine!.entryId]);
        await sleep(5);
        const [again] = await queue.reclaim('c2', 0, 10);
        assert.equal(again!.entryId, poison!.entryId);
        await queue.deadLetter([again!, fine!], 'too many attempts');
        const dead = await queue.listDeadLetters(10);
        assert.deepEqual(
          dead.map((d) => [d.payload, d.deliveries]),
          [['poison', 2]],
        );
        assert.equal(await queue.depth(), 0);
      }));

    it('close() during a blocked read resolves it empty, promptly', { timeout: 15_000 }, () =>
      withQueue(backend, 10, async ({ peer }) => {
        const q = await peer();
        const reading = q.read('c1', 10, 60_000);
        await sleep(200);
        await q.close();
        assert.deepEqual(await reading, []); // long before the 60 s block expires
        assert.deepEqual(await q.read('c1', 10, 60_000), []);
        assert.deepEqual(await q.reclaim('c1', 0, 10), []);
        await assert.rejects(q.enqueue(['x']), { code: ErrorCodes.CLOSED });
        await assert.rejects(q.ping(), { code: ErrorCodes.CLOSED });
        await q.close(); // idempotent
      }),
    );

    it('ping resolves while the backend is up', () =>
      withQueue(backend, 10, async ({ queue }) => {
        await queue.ping();
      }));
  });
}

describe('queue: Redis specifics', () => {
  const prefixes: string[] = [];
  const queues: RedisStreamsQueue[] = [];
  const raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const open = async (maxLength = 100, url = REDIS_URL) => {
    const prefix = uniquePrefix('queue');
    prefixes.push(prefix);
    const q = new RedisStreamsQueue({ url, keyPrefix: prefix, maxLength, pingTimeoutMs: 1000 });
    queues.push(q);
    return { q, prefix };
  };
  after(async () => {
    await Promise.all(queues.map((q) => q.close()));
    for (const p of prefixes) await dropPrefix(p);
    raw.disconnect();
  });

  it('keeps an enqueue call in one entry of <prefix>:events (read by group "workers"), counted in <prefix>:counts', async () => {
    const { q, prefix } = await open();
    await q.init();
    await q.enqueue(['a', 'b', 'c']);
    await q.enqueue(['solo']);
    const groups = (await raw.xinfo('GROUPS', `${prefix}:events`)) as unknown[][];
    assert.equal(groups.length, 1);
    assert.equal(groups[0]![1], 'workers');
    const entries = await raw.xrange(`${prefix}:events`, '-', '+');
    assert.deepEqual(
      entries.map(([, fields]) => fields),
      [
        ['b', 'a\nb\nc', 'n', '3'],
        ['b', 'solo'],
      ],
    );
    assert.deepEqual(await raw.hgetall(`${prefix}:counts`), { depth: '4', added: '4' });
    // A read delivers whole entries: asked for 2, it gets the 3 events of the first entry.
    const got = await q.read('c1', 2, 0);
    assert.deepEqual(payloadsOf(got), ['a', 'b', 'c']);
    assert.deepEqual(
      got.map((e) => e.entryId),
      [0, 1, 2].map((i) => `${entries[0]![0]}/${i}`),
    );
    // The entry leaves the stream once all its events are acknowledged, not before.
    await q.ack([got[0]!.entryId, got[2]!.entryId]);
    assert.equal(await raw.xlen(`${prefix}:events`), 2);
    assert.equal(await q.depth(), 4);
    await q.ack([got[1]!.entryId]);
    assert.equal(await raw.xlen(`${prefix}:events`), 1);
    assert.equal(await q.depth(), 1);
    assert.deepEqual(await raw.hgetall(`${prefix}:counts`), { depth: '1', added: '4' });
  });

  it('packs up to ENTRY_MAX_EVENTS payloads per entry; a payload with a newline travels alone', () => {
    const payloads = [...texts(600), 'two\nlines', 'after'];
    const args = packEntries(payloads);
    assert.deepEqual(
      args.filter((_, i) => i % 2 === 0),
      [ENTRY_MAX_EVENTS, ENTRY_MAX_EVENTS, 600 - 2 * ENTRY_MAX_EVENTS, 1, 1],
    );
    assert.equal(args[1], texts(600).slice(0, ENTRY_MAX_EVENTS).join('\n'));
    assert.deepEqual(args.slice(-4), [1, 'two\nlines', 1, 'after']);
  });

  it('cuts an entry at the cap, and a read never delivers more than max + one entry', async () => {
    const { q, prefix } = await open(700);
    await q.init();
    const statuses = await q.enqueue(texts(800));
    assert.equal(statuses.lastIndexOf('queued'), 699);
    assert.equal(statuses.indexOf('full'), 700);
    const sizes = (await raw.xrange(`${prefix}:events`, '-', '+')).map(([, f]) => Number(f[3]));
    assert.deepEqual(sizes, [256, 256, 188]);
    assert.equal((await q.read('c1', 10, 0)).length, 256, 'one whole entry');
    assert.equal((await q.read('c1', 300, 0)).length, 444, 'two entries: 300 + 144 < 300 + 256');
    const all = await q.reclaim('c2', 0, 1);
    assert.equal(all.length, 256, 'reclaim also takes whole entries');
  });

  it('redelivers a partly acknowledged entry whole after a crash, and dead-letters one event of it', async () => {
    const { q, prefix } = await open();
    await q.init();
    await q.enqueue(['a', 'poison', 'c']);
    const got = await q.read('crashed', 10, 0);
    await q.ack([got[0]!.entryId]); // then the worker dies
    await sleep(5);
    const { q: rescuer } = await (async () => {
      const r = new RedisStreamsQueue({ url: REDIS_URL, keyPrefix: prefix, maxLength: 100 });
      queues.push(r);
      return { q: r };
    })();
    const again = await rescuer.reclaim('rescuer', 0, 10);
    assert.deepEqual(payloadsOf(again), ['a', 'poison', 'c']);
    assert.deepEqual(
      again.map((e) => e.deliveries),
      [2, 2, 2],
    );
    await rescuer.deadLetter([again[1]!], 'bad');
    assert.deepEqual(
      (await rescuer.listDeadLetters(10)).map((d) => [d.payload, d.deliveries]),
      [['poison', 2]],
    );
    assert.equal(await rescuer.depth(), 3, 'still in the stream until its other events commit');
    await rescuer.ack([again[0]!.entryId, again[2]!.entryId]);
    assert.equal(await rescuer.depth(), 0);
    assert.equal(await raw.xlen(`${prefix}:events`), 0);
    assert.deepEqual(await rescuer.reclaim('third', 0, 10), []);
  });

  it('dead-lettering the last open event of an entry removes the entry in the same step; repeating it copies nothing', async () => {
    const { q, prefix } = await open();
    await q.init();
    await q.enqueue(['a', 'poison', 'c']);
    const got = await q.read('c1', 10, 0);
    await q.ack([got[0]!.entryId, got[2]!.entryId]);
    assert.equal(await raw.xlen(`${prefix}:events`), 1, 'the entry waits for its last event');
    await q.deadLetter([got[1]!], 'bad');
    assert.equal(await raw.xlen(`${prefix}:events`), 0);
    assert.equal(await q.depth(), 0);
    // A caller retrying after a lost reply finds the entry gone: no second dead letter.
    await q.deadLetter([got[1]!], 'bad');
    assert.deepEqual(
      (await q.listDeadLetters(10)).map((d) => d.payload),
      ['poison'],
    );
  });

  it('reads entries of the one-event-per-entry format (field e), counted by XLEN', async () => {
    const { q, prefix } = await open(3);
    await q.init();
    await raw.xadd(`${prefix}:events`, '*', 'e', 'old-1');
    await raw.xadd(`${prefix}:events`, '*', 'e', 'old-2');
    assert.equal(await q.depth(), 2);
    assert.deepEqual(await q.enqueue(['new', 'too-many']), ['queued', 'full']);
    const got = await q.read('c1', 10, 0);
    assert.deepEqual(payloadsOf(got), ['old-1', 'old-2', 'new']);
    await q.ack(got.map((e) => e.entryId));
    assert.equal(await q.depth(), 0);
  });

  it('counts old-format entries by XLEN when they are acknowledged or dead-lettered before any enqueue', async () => {
    const { q, prefix } = await open(10);
    await q.init();
    for (const p of ['old-1', 'old-2', 'old-3']) await raw.xadd(`${prefix}:events`, '*', 'e', p);
    const got = await q.read('c1', 10, 0);
    await q.ack([got[0]!.entryId]);
    assert.equal(await q.depth(), 2, 'no counter yet: what is left, by XLEN');
    await q.deadLetter([got[1]!], 'bad');
    assert.equal(await q.depth(), 1);
    assert.deepEqual(
      await q.enqueue(texts(10)),
      [...Array(9).fill('queued'), 'full'],
      'the cap sees the old entry that is left',
    );
  });

  it('an emptied stream holds no events whatever its counter says', async () => {
    const { q, prefix } = await open(2);
    await q.init();
    await q.enqueue(['a', 'b']);
    await raw.del(`${prefix}:events`); // e.g. deleted by hand
    assert.equal(await q.depth(), 0);
    await q.init();
    assert.deepEqual(await q.enqueue(['c', 'd', 'e']), ['queued', 'queued', 'full']);
  });

  it('dead letters live in <prefix>:dead with payload, reason, deliveries, first_seen', async () => {
    const { q, prefix } = await open();
    await q.init();
    await q.enqueue(['a']);
    await q.deadLetter(await q.read('c1', 1, 0), 'bad');
    const rows = await raw.xrange(`${prefix}:dead`, '-', '+');
    assert.equal(rows.length, 1);
    const fields = rows[0]![1];
    assert.deepEqual(
      fields.filter((_, i) => i % 2 === 0),
      ['payload', 'reason', 'deliveries', 'first_seen'],
    );
    assert.deepEqual(fields.slice(0, 6), ['payload', 'a', 'reason', 'bad', 'deliveries', '1']);
  });

  it('acknowledges away entries deleted while pending instead of returning them', async () => {
    const { q, prefix } = await open();
    await q.init();
    await enqueueEach(q, ['a', 'b', 'c']);
    const got = await q.read('crashed', 10, 0);
    await raw.xdel(`${prefix}:events`, got[1]!.entryId);
    await sleep(5);
    const reclaimed = await q.reclaim('rescuer', 0, 10);
    assert.deepEqual(payloadsOf(reclaimed), ['a', 'c']);
    const [pendingCount] = (await raw.xpending(`${prefix}:events`, 'workers')) as [number];
    assert.equal(pendingCount, 2);
  });

  it('recreates the stream and group when they vanish', async () => {
    const { q, prefix } = await open();
    await q.init();
    await raw.del(`${prefix}:events`);
    assert.deepEqual(await q.reclaim('c1', 0, 10), [], 'no group, so nothing pending');
    await q.enqueue(['after-flush']); // XADD recreates the stream, without the group
    assert.deepEqual(payloadsOf(await q.read('c1', 10, 0)), ['after-flush']);
  });

  it('runs the scripts by SHA from the lua directory', async () => {
    const scripts = loadScripts();
    assert.deepEqual(scripts.map((s) => `${s.name}-${s.numberOfKeys}`).sort(), [
      'ack-2',
      'deadletter-3',
      'enqueue-2',
      'read-1',
      'reclaim-1',
    ]);
    for (const s of scripts) assert.match(s.lua, /^local rcall = redis\.call$/m);
    const { q } = await open();
    await q.enqueue(['x']);
    const enqueue = scripts.find((s) => s.name === 'enqueue')!;
    const sha = createHash('sha1').update(enqueue.lua).digest('hex');
    assert.deepEqual(await raw.script('EXISTS', sha), [1]);
  });

  it('rejects promptly with QUEUE_UNAVAILABLE when Redis is down', { timeout: 10_000 }, async () => {
    // Nothing listens on port 1: every call must fail, none may wait for a reconnect forever.
    const { q } = await open(100, 'redis://:not-logged@127.0.0.1:1');
    await assert.rejects(q.ping(), { code: ErrorCodes.QUEUE_UNAVAILABLE });
    await assert.rejects(q.enqueue(['x']), { code: ErrorCodes.QUEUE_UNAVAILABLE });
    await assert.rejects(q.init(), { code: ErrorCodes.QUEUE_UNAVAILABLE });
    await assert.rejects(q.read('c1', 10, 1000), { code: ErrorCodes.QUEUE_UNAVAILABLE });
    await assert.rejects(q.ping(), (err: Error) => !err.message.includes('not-logged'));
    await q.close();
  });

  it('createQueue picks Redis when redisUrl is set, the journaled in-process queue otherwise', async () => {
    const prefix = uniquePrefix('queue');
    prefixes.push(prefix);
    const dataDir = await mkdtemp(join(tmpdir(), 'auditline-queue-'));
    const base = {
      keyPrefix: prefix,
      queueMaxLength: 5,
      dataDir,
      journalFsync: 'interval',
      journalMaxBytes: 1 << 30,
    } as const;
    const r = createQueue({ ...base, redisUrl: REDIS_URL });
    const m = createQueue({ ...base, redisUrl: null });
    try {
      assert.ok(r instanceof RedisStreamsQueue);
      assert.ok(m instanceof DurableMemoryQueue);
      assert.equal(m.dir, join(dataDir, 'queue'));
      await r.init();
      assert.equal(count(await r.enqueue(texts(7)), 'queued'), 5);
      assert.equal(count(await m.enqueue(texts(7)), 'queued'), 5);
    } finally {
      await Promise.all([r.close(), m.close()]);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
