/**
 * The idempotent batch inserts measured by `bench/store-append.ts`. Each runs inside a
 * transaction the caller opened on `client`, expects events sorted by id, and returns the
 * number of rows inserted (the rest were already stored).
 */
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  eventToTextColumns,
  INSERT_COLUMNS,
  insertFromStagingSql,
  type PlacedEvent,
  stagingTableSql,
  unnestInsertSql,
} from '../sql.js';

/** How `append` moves a batch into audit_logs. */
export type AppendMethod = 'copy' | 'unnest';

/** Escapes one value for COPY's text format (backslash, and the row/column delimiters). */
export function copyTextValue(v: string | null): string {
  if (v === null) return '\\N';
  // Fast path: most values contain none of the special characters.
  if (!/[\\\n\r\t]/.test(v)) return v;
  return v.replace(/[\\\n\r\t]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t',
  );
}

/** Bytes of COPY data per chunk written to the socket. */
const CHUNK_CHARS = 64 * 1024;

/**
 * One COPY text line, columns in {@link INSERT_COLUMNS} order. The hot path of every flush,
 * so it builds the line directly instead of through `eventToTextRow` + map + join (about 3.3
 * vs 5 µs per event, measured on 5,000 events); `test/unit/copy-encode.test.ts` checks it
 * against that generic form.
 * The id, created_at, hash, block id and leaf index never need escaping (UUID, ISO time, hex,
 * number).
 */
export function copyLine({ event: e, blockId, leafIndex }: PlacedEvent, hashAsBytea: boolean): string {
  return (
    `${e.id}\t${copyTextValue(e.tenant_id)}\t${copyTextValue(e.user_id)}\t${copyTextValue(e.resource_type)}\t${copyTextValue(e.resource_id)}` +
    `\t${copyTextValue(e.event_type)}\t${copyTextValue(e.event_category)}\t${copyTextValue(e.description)}` +
    `\t${copyTextValue(JSON.stringify(e.metadata))}\t${copyTextValue(e.ip_address)}\t${copyTextValue(e.user_agent)}\t${e.created_at}` +
    `\t${copyTextValue(e.producer_id)}\t${e.producer_seq === null ? '\\N' : e.producer_seq}` +
    `\t${hashAsBytea ? '\\\\x' : ''}${e.hash}\t${blockId ?? '\\N'}\t${leafIndex ?? '\\N'}\n`
  );
}

/**
 * The batch as COPY text-format lines, in chunks of about 64 KiB: PostgreSQL starts parsing
 * the first rows while later ones are still being encoded, instead of waiting for one
 * batch-sized string.
 */
function* copyChunks(events: readonly PlacedEvent[], hashAsBytea: boolean): Generator<string> {
  let out = '';
  for (const e of events) {
    out += copyLine(e, hashAsBytea);
    if (out.length >= CHUNK_CHARS) {
      yield out;
      out = '';
    }
  }
  if (out.length > 0) yield out;
}

/** The batch as one COPY text string for audit_logs (also the benchmark's ceiling input). */
export function copyTextForTable(events: readonly PlacedEvent[]): string {
  return [...copyChunks(events, true)].join('');
}

/**
 * (c) COPY straight into audit_logs, with no conflict handling: the fastest path, and the
 * one a flush tries first, since duplicates only come from redelivery. Any already-stored
 * event fails the whole COPY with unique_violation (23505); the caller then rolls back and
 * takes the idempotent path.
 */
export async function appendByStrictCopy(
  client: pg.PoolClient,
  schema: string,
  events: readonly PlacedEvent[],
): Promise<number> {
  const stream = client.query(
    copyFrom(`COPY "${schema}".audit_logs (${INSERT_COLUMNS.join(', ')}) FROM STDIN`),
  );
  await pipeline(copyChunks(events, true), stream);
  return events.length;
}

const STAGE = 'auditline_stage';

/**
 * (a) COPY into a transaction-local temp table, then INSERT … SELECT … ON CONFLICT DO
 * NOTHING. `ON COMMIT DROP` keeps it free of session state (safe on a transaction pooler).
 */
export async function appendByCopy(
  client: pg.PoolClient,
  schema: string,
  events: readonly PlacedEvent[],
): Promise<number> {
  await client.query(stagingTableSql(STAGE));
  const stream = client.query(copyFrom(`COPY ${STAGE} (${INSERT_COLUMNS.join(', ')}) FROM STDIN`));
  await pipeline(copyChunks(events, false), stream);
  const res = await client.query(insertFromStagingSql(schema, STAGE));
  return res.rowCount ?? 0;
}

/** (b) One INSERT … SELECT FROM unnest(text[] per column) … ON CONFLICT DO NOTHING. */
export async function appendByUnnest(
  client: pg.PoolClient,
  schema: string,
  events: readonly PlacedEvent[],
): Promise<number> {
  const res = await client.query(unnestInsertSql(schema), eventToTextColumns(events));
  return res.rowCount ?? 0;
}
