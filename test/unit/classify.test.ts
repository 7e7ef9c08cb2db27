/**
 * The write path's error classifier. Misclassifying "connection refused" as permanent is
 * how a well-known log pipeline lost data: every batch written while the database
 * restarted was discarded. Errors here are the real ones where a test can provoke them
 * (pg and ioredis against a closed port), and pg's own DatabaseError class for SQLSTATEs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { backoffMs, classifyError } from '../../src/worker/classify.js';
import { freePort } from '../helpers/throwaway.js';

const { DatabaseError } = pg;

function sqlError(code: string, message: string, extra: Partial<pg.DatabaseError> = {}): pg.DatabaseError {
  const e = new DatabaseError(message, message.length, 'error');
  e.code = code;
  Object.assign(e, extra);
  return e;
}

describe('classifyError', () => {
  it('a real ECONNREFUSED from pg (by address and by name) is transient', async () => {
    const port = await freePort();
    for (const host of ['127.0.0.1', 'localhost']) {
      const c = new pg.Client({
        connectionString: `postgres://postgres@${host}:${port}/x`,
        connectionTimeoutMillis: 2000,
      });
      const err = await c.connect().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err, 'connecting to a closed port fails');
      assert.equal(classifyError(err), 'transient', `${host}: ${String(err)}`);
    }
  });

  it('a real connection failure from ioredis is transient', async () => {
    const port = await freePort();
    const r = new Redis(`redis://127.0.0.1:${port}`, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => {});
    const err = await r.connect().then(
      () => null,
      (e: unknown) => e,
    );
    r.disconnect();
    assert.equal(classifyError(err), 'transient', String(err));
  });

  it('admin shutdown, too many connections, serialization failure and deadlock are transient', () => {
    for (const [code, msg] of [
      ['57P01', 'terminating connection due to administrator command'],
      ['57P03', 'the database system is starting up'],
      ['53300', 'sorry, too many clients already'],
      ['40001', 'could not serialize access due to concurrent update'],
      ['40P01', 'deadlock detected'],
      ['08006', 'connection failure'],
    ] as const) {
      assert.equal(classifyError(sqlError(code, msg)), 'transient', code);
    }
  });

  it('node socket errors and connection messages without a code are transient', () => {
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH']) {
      assert.equal(classifyError(Object.assign(new Error(code), { code })), 'transient', code);
    }
    assert.equal(classifyError(new Error('Connection terminated unexpectedly')), 'transient');
    assert.equal(classifyError(new Error('timeout exceeded when trying to connect')), 'transient');
  });

  it('class 22 (data exception) and class 23 (integrity violation) on event rows are data errors', () => {
    for (const [code, msg] of [
      ['22P02', 'invalid input syntax for type inet: "not-an-ip"'],
      ['22007', 'invalid input syntax for type timestamp with time zone'],
      ['22008', 'timestamp out of range'],
      ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
      ['23502', 'null value in column "event_type" violates not-null constraint'],
      ['23514', 'no partition of relation "audit_logs" found for row'],
    ] as const) {
      assert.equal(classifyError(sqlError(code, msg, { table: 'audit_logs' })), 'data', code);
    }
  });

  it('a unique violation on the block table is a race between workers, not a bad event', () => {
    const err = sqlError('23505', 'duplicate key value violates unique constraint "audit_blocks_pkey"', {
      table: 'audit_blocks',
      constraint: 'audit_blocks_pkey',
    });
    assert.equal(classifyError(err), 'transient');
  });

  it('anything unrecognised is unknown (retried a few times), never data at once', () => {
    assert.equal(classifyError(new Error('something odd')), 'unknown');
    assert.equal(classifyError('a string'), 'unknown');
  });

  it('backoff is jittered, positive and capped', () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ms = backoffMs(attempt, 100, 10_000);
      assert.ok(ms >= 1 && ms <= 10_000, `attempt ${attempt}: ${ms}`);
    }
  });
});
