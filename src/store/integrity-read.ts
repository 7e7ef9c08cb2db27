/**
 * {@link IntegrityStore} on SQL, shared by both adapters. Values are read as text or one JSON
 * array per row (as in `sql.ts`), so both drivers hand back the same thing; timestamps as
 * epoch milliseconds, the precision block hashes use.
 */
import type { LeafRow } from '../core/block.js';
import { AuditError, ErrorCodes } from '../core/errors.js';
import type { Signer } from '../core/signing.js';
import type {
  IntegrityStore,
  OrphanRow,
  PartitionInfo,
  ProofData,
  RetentionRecord,
  SequenceFacts,
  StoredBlock,
} from './integrity-port.js';
import type { RunInTransaction } from './migrate.js';
import { type EventRow, rowToEvent, SELECT_LIST } from './sql.js';

const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::int8`;

const BLOCK_ROW = `json_build_array(seq, block_id, encode(prev_hash, 'hex'), encode(merkle_root, 'hex'), count,
  ${ms('first_created_at')}, ${ms('last_created_at')}, encode(hash, 'hex'), signature, key_id)::text AS row`;

type BlockArray = [
  number,
  string,
  string,
  string,
  number,
  number,
  number,
  string,
  string | null,
  string | null,
];

function toBlock({ row }: { row: string }): StoredBlock {
  const [seq, block_id, prev_hash, merkle_root, count, first, last, hash, signature, key_id] = JSON.parse(
    row,
  ) as BlockArray;
  return {
    seq,
    block_id,
    prev_hash,
    merkle_root,
    count,
    first_created_at: new Date(first).toISOString(),
    last_created_at: new Date(last).toISOString(),
    hash,
    signature,
    key_id,
  };
}

const PARTITION_RE = /^audit_logs_(\d{4})_(\d{2})$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The integrity reads and retention of one schema. */
export class SqlIntegrity implements IntegrityStore {
  constructor(
    private readonly schema: string,
    private readonly run: <R>(text: string, params?: unknown[]) => Promise<R[]>,
    private readonly transaction: RunInTransaction,
    private readonly signer: Signer | null,
  ) {}

  private get t(): string {
    return `"${this.schema}"`;
  }

  publicKey(): { pem: string; keyId: string } | null {
    return this.signer ? { pem: this.signer.publicKeyPem, keyId: this.signer.keyId } : null;
  }

  async head(): Promise<StoredBlock | null> {
    const rows = await this.run<{ row: string }>(
      `SELECT ${BLOCK_ROW} FROM ${this.t}.audit_blocks ORDER BY seq DESC LIMIT 1`,
    );
    return rows[0] ? toBlock(rows[0]) : null;
  }

  async block(seq: number): Promise<StoredBlock | null> {
    const rows = await this.run<{ row: string }>(
      `SELECT ${BLOCK_ROW} FROM ${this.t}.audit_blocks WHERE seq = $1::int8`,
      [String(seq)],
    );
    return rows[0] ? toBlock(rows[0]) : null;
  }

  async blocks(afterSeq: number, limit: number): Promise<StoredBlock[]> {
    const rows = await this.run<{ row: string }>(
      `SELECT ${BLOCK_ROW} FROM ${this.t}.audit_blocks WHERE seq > $1::int8 ORDER BY seq LIMIT $2::int4`,
      [String(afterSeq), limit],
    );
    return rows.map(toBlock);
  }

  async leaves(blockIds: readonly string[]): Promise<Map<string, LeafRow[]>> {
    const out = new Map<string, LeafRow[]>(blockIds.map((id) => [id, []]));
    if (blockIds.length === 0) return out;
    const rows = await this.run<{ b: string; i: number | null; h: string }>(
      `SELECT block_id::text AS b, leaf_index AS i, encode(hash, 'hex') AS h
         FROM ${this.t}.audit_logs WHERE block_id = ANY($1::uuid[])
       UNION ALL
       SELECT block_id::text, leaf_index, encode(hash, 'hex')
         FROM ${this.t}.audit_purged_leaves WHERE block_id = ANY($1::uuid[])`,
      [blockIds],
    );
    for (const r of rows) out.get(r.b)?.push({ leaf_index: r.i ?? -1, hash: r.h });
    return out;
  }

  async orphans(limit: number, range: { from?: string; to?: string } = {}): Promise<OrphanRow[]> {
    const params: unknown[] = [limit];
    const where = [`NOT EXISTS (SELECT 1 FROM ${this.t}.audit_blocks b WHERE b.block_id = l.block_id)`];
    if (range.from) where.push(`l.created_at >= $${params.push(range.from)}::timestamptz`);
    if (range.to) where.push(`l.created_at < $${params.push(range.to)}::timestamptz`);
    const rows = await this.run<{ id: string; ms: string; b: string | null }>(
      `SELECT l.id::text AS id, ${ms('l.created_at')}::text AS ms, l.block_id::text AS b
       FROM ${this.t}.audit_logs l WHERE ${where.join(' AND ')} ORDER BY l.created_at, l.id LIMIT $1::int4`,
      params,
    );
    return rows.map((r) => ({ id: r.id, created_at: new Date(Number(r.ms)).toISOString(), block_id: r.b }));
  }

  async proofData(id: string, tenantId: string): Promise<ProofData | null> {
    if (!UUID_RE.test(id)) return null;
    const rows = await this.run<EventRow & { b: string | null; i: number | null }>(
      `SELECT ${SELECT_LIST}, block_id::text AS b, leaf_index AS i
       FROM ${this.t}.audit_logs WHERE id = $1::uuid AND tenant_id = $2 LIMIT 1`,
      [id, tenantId],
    );
    const r = rows[0];
    if (!r || r.b === null || r.i === null) return null;
    const blocks = await this.run<{ row: string }>(
      `SELECT ${BLOCK_ROW} FROM ${this.t}.audit_blocks WHERE block_id = $1::uuid`,
      [r.b],
    );
    if (!blocks[0]) return null;
    const block = toBlock(blocks[0]);
    const leaves = (await this.leaves([r.b])).get(r.b) ?? [];
    const { block_id: _omit, ...record } = block;
    return { event: rowToEvent(r), leafIndex: r.i, leaves, block: record };
  }

  async retentionLog(): Promise<RetentionRecord[]> {
    const rows = await this.run<{ p: string; s: string; e: string; n: string; f: string | null; at: string }>(
      `SELECT partition AS p, ${ms('range_start')}::text AS s, ${ms('range_end')}::text AS e,
              row_count::text AS n, export_file AS f, ${ms('purged_at')}::text AS at
       FROM ${this.t}.audit_retention ORDER BY range_start, id`,
    );
    const iso = (x: string) => new Date(Number(x)).toISOString();
    return rows.map((r) => ({
      partition: r.p,
      range_start: iso(r.s),
      range_end: iso(r.e),
      row_count: Number(r.n),
      export_file: r.f,
      purged_at: iso(r.at),
    }));
  }

  async partitions(): Promise<PartitionInfo[]> {
    const rows = await this.run<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '${this.t}.audit_logs'::regclass ORDER BY c.relname`,
    );
    const out: PartitionInfo[] = [];
    // Bounds come from the name the partition helper gives each month (UTC).
    for (const { name } of rows) {
      const m = PARTITION_RE.exec(name);
      if (!m) continue;
      const y = Number(m[1]);
      const mo = Number(m[2]) - 1;
      out.push({
        name,
        range_start: new Date(Date.UTC(y, mo, 1)).toISOString(),
        range_end: new Date(Date.UTC(y, mo + 1, 1)).toISOString(),
      });
    }
    return out;
  }

  async dropPartition(name: string, exportFile: string | null): Promise<number> {
    const part = (await this.partitions()).find((p) => p.name === name);
    if (!part) throw new AuditError(ErrorCodes.NOT_FOUND, `no partition ${name} in schema ${this.schema}`);
    return this.transaction(async (tx) => {
      // The partition helper's lock: no appender creates or writes a partition meanwhile.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`auditline:partitions:${this.schema}`]);
      const p = `${this.t}."${name}"`;
      const [count] = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${p}`);
      // Leaves of blocks that also have rows outside this month: without them those blocks'
      // roots could not be rebuilt. Blocks wholly inside the month are reported as purged.
      await tx.query(
        `INSERT INTO ${this.t}.audit_purged_leaves (block_id, leaf_index, hash)
         SELECT l.block_id, l.leaf_index, l.hash FROM ${p} l
         JOIN ${this.t}.audit_blocks b ON b.block_id = l.block_id
         WHERE b.first_created_at < $1::timestamptz OR b.last_created_at >= $2::timestamptz
         ON CONFLICT DO NOTHING`,
        [part.range_start, part.range_end],
      );
      await tx.query(
        `INSERT INTO ${this.t}.audit_retention (partition, range_start, range_end, row_count, export_file)
         VALUES ($1, $2::timestamptz, $3::timestamptz, $4::int8, $5)`,
        [name, part.range_start, part.range_end, count?.n ?? '0', exportFile],
      );
      await tx.query(`DROP TABLE ${p}`);
      return Number(count?.n ?? 0);
    });
  }

  async sequenceFacts(): Promise<SequenceFacts> {
    const where = 'producer_id IS NOT NULL AND producer_seq IS NOT NULL';
    const producers = await this.run<{ p: string; lo: string; hi: string; n: string }>(
      `SELECT producer_id AS p, min(producer_seq)::text AS lo, max(producer_seq)::text AS hi,
              count(DISTINCT producer_seq)::text AS n
       FROM ${this.t}.audit_logs WHERE ${where} GROUP BY producer_id ORDER BY producer_id`,
    );
    const gaps = await this.run<{ p: string; f: string; t: string }>(
      `SELECT producer_id AS p, (prev + 1)::text AS f, (producer_seq - 1)::text AS t FROM (
         SELECT producer_id, producer_seq,
                lag(producer_seq) OVER (PARTITION BY producer_id ORDER BY producer_seq) AS prev
         FROM ${this.t}.audit_logs WHERE ${where}) s
       WHERE producer_seq > prev + 1 ORDER BY producer_id, producer_seq`,
    );
    const explained = await this.run<{ p: string; r: string | null }>(
      `SELECT metadata->>'producer_id' AS p, (metadata->'dropped_seq_ranges')::text AS r
       FROM ${this.t}.audit_logs WHERE event_type = 'audit.gap' AND metadata ? 'producer_id'`,
    );
    return {
      producers: producers.map((r) => ({
        producer_id: r.p,
        min: Number(r.lo),
        max: Number(r.hi),
        count: Number(r.n),
      })),
      gaps: gaps.map((r) => ({ producer_id: r.p, from: Number(r.f), to: Number(r.t) })),
      explained: explained.map((r) => ({ producer_id: r.p, ranges: parseRanges(r.r) })),
    };
  }
}

function parseRanges(text: string | null): [number, number][] {
  if (!text) return [];
  try {
    const v = JSON.parse(text) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter(
      (r): r is [number, number] =>
        Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]),
    );
  } catch {
    return [];
  }
}
