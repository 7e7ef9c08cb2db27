/**
 * The write path of one flush with its block, shared by both SQL adapters.
 *
 * One transaction: (1) find which events of the batch are already stored, (2) bulk-insert
 * the new ones (COPY on PostgreSQL) carrying a fresh `block_id` and their leaf index, (3)
 * take the transaction-scoped advisory lock of the chain, read the tail block, insert the
 * next block built over exactly the rows step 2 inserted, (4) commit. Only step 3 is
 * serialized: holding the lock across the bulk insert would make every worker wait for every
 * other worker's COPY. The rows do not need their block's seq (known only under the lock):
 * they carry the block_id generated up front, which the block row repeats.
 *
 * The first attempt skips step 1 and COPYs straight into audit_logs without conflict handling
 * (duplicates only come from redelivery, so this is the common case and the fastest path);
 * a duplicate aborts it with unique_violation and the flush is retried with steps 1–2.
 *
 * If ON CONFLICT skipped a row that step 1 did not see (a concurrent flush of the same event
 * committed in between), the block would be over events this flush did not insert: the
 * transaction is rolled back and the flush retried, so a redelivered event lands in exactly
 * one block.
 */
import { type BlockSigner, blockBody, sealBlock } from '../core/block.js';
import { AuditError, ErrorCodes } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import { newEventId } from '../core/ids.js';
import type { SqlTransaction } from './migrate.js';
import type { PlacedEvent } from './sql.js';

/** A transaction that can also bulk-insert placed events (the adapter's fastest way). */
export interface AppendTx extends Pick<SqlTransaction, 'query'> {
  /** Inserts with ON CONFLICT DO NOTHING; resolves to the number of rows inserted. */
  insertRows(rows: readonly PlacedEvent[]): Promise<number>;
  /**
   * Optional faster insert of rows none of which may exist yet: fails with unique_violation
   * (SQLSTATE 23505) otherwise, aborting the transaction.
   */
  insertRowsStrict?: (rows: readonly PlacedEvent[]) => Promise<number>;
}

const UNIQUE_VIOLATION = '23505';

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === UNIQUE_VIOLATION;
}

/** How a store writes blocks. */
export interface BlockOptions {
  /**
   * Append a block per flush. Default true. `false` exists ONLY for `bench/integrity-cost.ts`
   * to measure what integrity costs; rows written so belong to no block and `verify` fails.
   */
  blocks: boolean;
  /** Signs each block hash when given. */
  signer: BlockSigner | null;
}

/** Thrown inside the flush transaction when a concurrent duplicate was skipped; the flush is retried. */
class ConcurrentDuplicate extends Error {}

/** Attempts per flush; each retry sees the duplicate that caused it, so two are almost always enough. */
export const MAX_FLUSH_ATTEMPTS = 5;

/**
 * A block's id: a UUIDv7, time-ordered like event ids, so the rows' (block_id, leaf_index)
 * index grows at its right edge instead of at a random page per flush (a v4 id did).
 */
const newBlockId = newEventId;

/** Advisory lock key of a schema's chain (hashtext of this text). */
export function chainLockKey(schema: string): string {
  return `auditline:blocks:${schema}`;
}

/**
 * Keeps the first of several events with the same (id, created_at): one row each anyway.
 * `sorted` is in id order, so such events have equal neighbouring ids; when no two neighbours
 * do (the common case: duplicates only come from redelivery) it is returned as it is, without
 * a key per event.
 */
export function uniqueByKey(sorted: readonly AuditEvent[]): readonly AuditEvent[] {
  let i = 1;
  while (i < sorted.length && sorted[i]!.id !== sorted[i - 1]!.id) i++;
  if (i >= sorted.length) return sorted;
  const seen = new Set<string>();
  return sorted.filter((e) => {
    const k = `${e.id}|${Date.parse(e.created_at)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Writes one flush (events sorted by id, partitions present) inside `tx`; returns the number
 * of rows inserted. Throws {@link ConcurrentDuplicate} (retried by {@link appendFlush}).
 */
async function writeFlush(
  tx: AppendTx,
  schema: string,
  sorted: readonly AuditEvent[],
  options: BlockOptions,
  optimistic: boolean,
): Promise<number> {
  const strict = optimistic ? tx.insertRowsStrict : undefined;
  if (!options.blocks) {
    const rows = (strict ? uniqueByKey(sorted) : sorted).map((event) => ({
      event,
      blockId: null,
      leafIndex: null,
    }));
    return strict ? strict(rows) : tx.insertRows(rows);
  }
  const events = uniqueByKey(sorted);
  if (strict) {
    // First attempt: assume nothing is stored yet (duplicates only come from redelivery) and
    // skip the existence check; a duplicate aborts the COPY and the flush is retried below.
    const blockId = newBlockId();
    await strict(events.map((event, leafIndex) => ({ event, blockId, leafIndex })));
    return appendBlock(tx, schema, events, blockId, options);
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    const ms = Date.parse(e.created_at);
    if (ms < lo) lo = ms;
    if (ms > hi) hi = ms;
  }
  // The created_at bounds let PostgreSQL prune to the batch's partitions.
  const existing = await tx.query<{ id: string; ms: string }>(
    `SELECT id::text AS id, (extract(epoch FROM created_at) * 1000)::int8::text AS ms
     FROM "${schema}".audit_logs
     WHERE id = ANY($1::uuid[]) AND created_at BETWEEN $2::timestamptz AND $3::timestamptz`,
    [events.map((e) => e.id), new Date(lo).toISOString(), new Date(hi).toISOString()],
  );
  const stored = new Set(existing.map((r) => `${r.id}|${r.ms}`));
  const fresh = events.filter((e) => !stored.has(`${e.id}|${Date.parse(e.created_at)}`));
  if (fresh.length === 0) return 0; // nothing inserted: no block
  const blockId = newBlockId();
  // Leaf order = id order, the order the rows are inserted in (known before the insert).
  const inserted = await tx.insertRows(fresh.map((event, leafIndex) => ({ event, blockId, leafIndex })));
  if (inserted !== fresh.length) throw new ConcurrentDuplicate();
  return appendBlock(tx, schema, fresh, blockId, options);
}

/** Takes the chain lock and appends the block over `fresh` (the rows this flush inserted, in leaf order). */
async function appendBlock(
  tx: AppendTx,
  schema: string,
  fresh: readonly AuditEvent[],
  blockId: string,
  options: BlockOptions,
): Promise<number> {
  // The Merkle root (2N hashes) is computed before the lock: only linking to the tail is serialized.
  const body = blockBody(
    fresh.map((e) => e.hash),
    fresh.map((e) => e.created_at),
  );
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [chainLockKey(schema)]);
  // A separate statement after the lock: its snapshot includes the block the previous
  // holder committed (READ COMMITTED takes a new snapshot per statement).
  // Aliases differ from the column names: ORDER BY would otherwise sort the text alias
  // ('9' > '10'), and the next block would reuse a seq (caught by the 4-appender test).
  const tail = await tx.query<{ s: string; h: string }>(
    `SELECT seq::text AS s, encode(hash, 'hex') AS h FROM "${schema}".audit_blocks ORDER BY seq DESC LIMIT 1`,
  );
  const prev = tail[0] ? { seq: Number(tail[0].s), hash: tail[0].h } : null;
  const block = sealBlock(prev, body, options.signer ?? undefined);
  await tx.query(
    `INSERT INTO "${schema}".audit_blocks
       (seq, block_id, prev_hash, merkle_root, count, first_created_at, last_created_at, hash, signature, key_id)
     VALUES ($1::int8, $2::uuid, decode($3, 'hex'), decode($4, 'hex'), $5::int4, $6::timestamptz,
             $7::timestamptz, decode($8, 'hex'), $9, $10)`,
    [
      String(block.seq),
      blockId,
      block.prev_hash,
      block.merkle_root,
      block.count,
      block.first_created_at,
      block.last_created_at,
      block.hash,
      block.signature,
      block.key_id,
    ],
  );
  return fresh.length;
}

/**
 * Runs one flush in `transaction`, retrying after a concurrent duplicate. Resolves to the
 * number of rows inserted.
 */
export async function appendFlush(
  transaction: <T>(fn: (tx: AppendTx) => Promise<T>) => Promise<T>,
  schema: string,
  sorted: readonly AuditEvent[],
  options: BlockOptions,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction((tx) => writeFlush(tx, schema, sorted, options, attempt === 1));
    } catch (err) {
      // A duplicate met by the optimistic first attempt is not a data error: retry idempotently.
      if (attempt === 1 && isUniqueViolation(err)) continue;
      if (!(err instanceof ConcurrentDuplicate)) throw err;
      if (attempt >= MAX_FLUSH_ATTEMPTS) {
        throw new AuditError(
          ErrorCodes.STORE_UNAVAILABLE,
          `flush kept racing concurrent duplicates (${attempt} attempts)`,
        );
      }
    }
  }
}
