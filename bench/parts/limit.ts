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
const COLUMNS = [
  'id',
  'tenant_id',
  'user_id',
  'resource_type',
  'resource_id',
  'event_type',
  'event_category',
  'description',
  'metadata',
  'ip_address',
  'user_agent',
  'created_at',
  'producer_id',
  'producer_seq',
  'hash',
];

function copyValue(v: string | null): string {
  if (v === null) return '\\N';
  return /[\\\n\r\t]/.test(v)
    ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    : v;
}

/** COPY text format; bytea as `\x<hex>` (its backslash escaped for the text format). */
function encode(events: readonly AuditEvent[]): Buffer {
  let out = '';
  for (const e of events) {
    out += [
      e.id,
      e.tenant_id,
      e.user_id,
      e.resource_type,
      e.resource_id,
      e.event_type,
      e.event_category,
      e.description,
      JSON.stringify(e.metadata),
      e.ip_address,
      e.user_agent,
      e.created_at,
      e.producer_id,
      e.producer_seq === null ? null : String(e.producer_seq),
    ]
      .map(copyValue)
      .join('\t');
    out += `\t\\\\x${e.hash}\n`;
  }
  return Buffer.from(out);
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
