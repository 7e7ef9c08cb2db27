/**
 * What integrity costs on the write path: 100k events in batches of 1000 appended by 2
 * concurrent PostgresStore instances (one connection each, COPY), in three modes, each in
 * its own schema (dropped after):
 *
 *   baseline  blocks disabled (the store option that exists only for this benchmark) and
 *             the block_id index dropped: the write path as it was before integrity
 *   blocks    a block per flush: duplicate pre-check, block_id/leaf_index columns and
 *             index, Merkle root, advisory-locked chain append
 *   signed    the same with every block hash signed (Ed25519)
 *
 * Each mode runs twice, in forward then reverse order, so none profits from a warmer server.
 *
 *   npx tsx bench/integrity-cost.ts          # DATABASE_URL or the local test database
 *   EVENTS=200000 BATCH=2000 APPENDERS=4 npx tsx bench/integrity-cost.ts
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AuditEvent } from '../src/core/event.js';
import { createSigner, generateKeyPair } from '../src/core/signing.js';
import { PostgresStore } from '../src/store/postgres/store.js';
import { makeSealedEvents } from './sealed-events.js';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const total = Number(process.env.EVENTS ?? 100_000);
const batchSize = Number(process.env.BATCH ?? 1000);
const appenders = Number(process.env.APPENDERS ?? 2);
type Mode = 'baseline' | 'blocks' | 'signed';
const modes: Mode[] = ['baseline', 'blocks', 'signed'];
const signer = createSigner(generateKeyPair().privateKeyPem);

async function exec(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

async function runMode(mode: Mode, events: AuditEvent[]): Promise<number> {
  const schema = `bench_integrity_${mode}_${randomBytes(3).toString('hex')}`;
  const stores = Array.from(
    { length: appenders },
    () =>
      new PostgresStore({
        connectionString: url,
        schema,
        poolSize: 1,
        blocks: mode !== 'baseline',
        signer: mode === 'signed' ? signer : null,
      }),
  );
  try {
    await stores[0]!.migrate();
    if (mode === 'baseline') await exec(`DROP INDEX "${schema}".audit_logs_block_idx`);
    for (const s of stores) await s.append(events.slice(0, 1)); // connections and partitions warm
    const batches: AuditEvent[][] = [];
    for (let i = 1; i < events.length; i += batchSize) batches.push(events.slice(i, i + batchSize));
    let next = 0;
    const start = process.hrtime.bigint();
    await Promise.all(
      stores.map(async (s) => {
        for (let b = next++; b < batches.length; b = next++) await s.append(batches[b]!);
      }),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    return (events.length - 1) / seconds;
  } finally {
    await Promise.all(stores.map((s) => s.close()));
    await exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

const events = makeSealedEvents(total + 1);
const results = new Map<Mode, number[]>(modes.map((m) => [m, []]));
for (const mode of [...modes, ...modes.slice().reverse()]) {
  const rate = await runMode(mode, events);
  results.get(mode)!.push(rate);
  console.log(`${mode.padEnd(9)} ${Math.round(rate)} events/s`);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const base = mean(results.get('baseline')!);
console.log(`\n${total} events, batches of ${batchSize}, ${appenders} concurrent appenders (COPY)`);
for (const m of modes) {
  const r = mean(results.get(m)!);
  console.log(
    `${m.padEnd(9)} mean ${Math.round(r)} events/s (${(((r - base) / base) * 100).toFixed(1)}% vs baseline)`,
  );
}
