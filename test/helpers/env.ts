/**
 * Test isolation: every test gets its own Redis key prefix and its own PostgreSQL schema on
 * the shared servers (or on TEST_REDIS_URL / TEST_DATABASE_URL), and removes them after.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A short random suffix, unique per call. */
export function uniqueId(): string {
  return randomBytes(5).toString('hex');
}

/** A Redis key prefix no other test uses. */
export function uniquePrefix(label = 't'): string {
  return `test:${label}:${uniqueId()}`;
}

/** A PostgreSQL schema name no other test uses. */
export function uniqueSchema(label = 't'): string {
  return `test_${label.replace(/[^a-z0-9_]/g, '_')}_${uniqueId()}`;
}

/** Deletes every Redis key under a prefix. */
export async function dropPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** Drops a PostgreSQL schema and everything in it. */
export async function dropSchema(schema: string, url = DATABASE_URL): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

/** Runs one query on a fresh connection (for assertions). */
export async function sql<T extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  params: unknown[] = [],
  url = DATABASE_URL,
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}
