/**
 * The ceiling: the same generated events COPYed straight into a fresh `audit_logs` (created
 * by the real migrations, so the same partitions and indexes) from 2 connections at once.
 * No queue, no library, no ON CONFLICT, no staging table: only PostgreSQL's own work.
 * The COPY text is encoded before the clock starts, so the number is the server's.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AuditEvent } from '../../src/core/event.js';
import { copyTextForTable } from '../../src/store/postgres/append.js';
import { INSERT_COLUMNS } from '../../src/store/sql.js';
import { countRows, migrateSchema, names, type PartContext } from '../context.js';
import { makeSealedEvents } from '../sealed-events.js';
import { CpuMeter, pidsByName } from '../system.js';

export interface LimitResult {
  rows: number;
  seconds: number;
  rowsPerS: number;
  connections: number;
  rowsPerCopy: number;
  /** Cores used while copying, per process group (postgres = every backend, others' included). */
  cpuCores: Record<string, number>;
}

const CONNECTIONS = 2;
const COLUMNS = INSERT_COLUMNS;

/** COPY text format, encoded by the store's own encoder (block columns left null). */
function encode(events: readonly AuditEvent[]): Buffer {
  return Buffer.from(copyTextForTable(events.map((event) => ({ event, blockId: null, leafIndex: null }))));
}

export async function runLimit(ctx: PartContext): Promise<LimitResult> {
  const { limitRows, limitBatchRows } = ctx.scale;
  const { schema } = names(ctx, 'limit');
  await migrateSchema(ctx, schema);
  ctx.log(`limit: encoding ${limitRows} events`);
  const chunks: Buffer[] = [];
  for (let i = 0; i < limitRows; i += limitBatchRows) {
    chunks.push(encode(makeSealedEvents(Math.min(limitBatchRows, limitRows - i), 1000 + i)));
  }
  const clients = Array.from(
    { length: CONNECTIONS },
    () => new pg.Client({ connectionString: ctx.opts.databaseUrl }),
  );
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const sql = `COPY "${schema}".audit_logs (${COLUMNS.join(', ')}) FROM STDIN`;
    ctx.log(`limit: COPY ${limitRows} rows from ${CONNECTIONS} connections`);
    let next = 0;
    const cpu = new CpuMeter(() => ({ postgres: pidsByName('postgres'), bench: [process.pid] }));
    cpu.begin();
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        // Each connection takes the next chunk: one COPY (one transaction) per chunk.
        while (next < chunks.length) {
          const chunk = chunks[next++]!;
          await pipeline(Readable.from([chunk]), c.query(copyFrom(sql)));
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpuCores = cpu.end();
    const rows = await countRows(ctx, schema);
    if (rows !== limitRows) throw new Error(`limit: expected ${limitRows} rows, found ${rows}`);
    return {
      rows,
      seconds,
      rowsPerS: rows / seconds,
      connections: CONNECTIONS,
      rowsPerCopy: limitBatchRows,
      cpuCores,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    await ctx.cleanup.dropSchema(schema);
  }
}
