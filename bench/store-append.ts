/**
 * Times each candidate `append` method of the PostgreSQL adapter: 100k events in batches of
 * 1000, one connection, each method in its own schema (dropped after), end to end through
 * `PostgresStore.append` (partition check, sort, encode, insert). Prints rows/s.
 *
 *   npx tsx bench/store-append.ts            # DATABASE_URL or the local test database
 *   EVENTS=200000 BATCH=2000 npx tsx bench/store-append.ts
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AppendMethod } from '../src/store/postgres/append.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { makeSealedEvents } from './sealed-events.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const total = Number(process.env.EVENTS ?? 100_000);
const batchSize = Number(process.env.BATCH ?? 1000);
const methods: AppendMethod[] = ['copy', 'unnest'];

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
}

const events = makeSealedEvents(total);
// Run the methods in both orders so neither profits from a warmer server.
for (const method of [...methods, ...methods.slice().reverse()]) {
  const schema = `bench_append_${method}_${randomBytes(3).toString('hex')}`;
  const store = new PostgresStore({ connectionString: url, schema, poolSize: 1, appendMethod: method });
  try {
    await store.migrate();
    await store.append(events.slice(0, 1)); // partitions and connection warmed up
    const start = process.hrtime.bigint();
    let inserted = 0;
    for (let i = 0; i < total; i += batchSize) {
      inserted += (await store.append(events.slice(i, i + batchSize))).inserted;
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const dupStart = process.hrtime.bigint();
    for (let i = 0; i < total; i += batchSize) await store.append(events.slice(i, i + batchSize));
    const dupSeconds = Number(process.hrtime.bigint() - dupStart) / 1e9;
    console.log(
      `${method.padEnd(7)} ${Math.round(total / seconds)} rows/s new ` +
        `(${inserted} inserted in ${seconds.toFixed(2)} s), ` +
        `${Math.round(total / dupSeconds)} rows/s all-duplicate re-delivery`,
    );
  } finally {
    await store.close();
    await dropSchema(schema);
  }
}
