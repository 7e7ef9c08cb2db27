/**
 * The integrity part of the store port (`StoreAdapter.integrity`): reads that `auditline
 * verify`, proofs, checkpoints and the integrity routes need, and retention, the only way
 * rows ever leave the append-only tables. Speaks in chain terms (blocks, leaves), not SQL.
 */
import type { BlockRecord, LeafRow } from '../core/block.js';
import type { AuditEvent } from '../core/event.js';

/** A block as stored: the {@link BlockRecord} plus the id its rows carry. */
export interface StoredBlock extends BlockRecord {
  block_id: string;
}

/** What {@link IntegrityStore.proofData} returns: everything `buildProof` needs. */
export interface ProofData {
  event: AuditEvent;
  leafIndex: number;
  /** Hex event hashes of the block's leaves in leaf order (only those present). */
  leaves: LeafRow[];
  block: BlockRecord;
}

/** An event row that belongs to no stored block (block removed, or row inserted behind auditline's back). */
export interface OrphanRow {
  id: string;
  created_at: string;
  block_id: string | null;
}

/** One partition dropped by retention (`audit_retention`). */
export interface RetentionRecord {
  partition: string;
  range_start: string;
  range_end: string;
  row_count: number;
  export_file: string | null;
  purged_at: string;
}

/** A monthly partition of `audit_logs`. */
export interface PartitionInfo {
  name: string;
  /** Inclusive start, ISO. */
  range_start: string;
  /** Exclusive end, ISO. */
  range_end: string;
}

/** Per-producer sequence facts for the completeness check. */
export interface SequenceFacts {
  producers: { producer_id: string; min: number; max: number; count: number }[];
  /** Missing inclusive ranges between the lowest and highest seq seen, per producer. */
  gaps: { producer_id: string; from: number; to: number }[];
  /** `metadata.dropped_seq_ranges` of every `audit.gap` record, per producer. */
  explained: { producer_id: string; ranges: [number, number][] }[];
}

export interface IntegrityStore {
  /** The public key blocks are signed with (from the configured signer), or null when unsigned. */
  publicKey(): { pem: string; keyId: string } | null;
  /** The latest block, or null before the first flush. */
  head(): Promise<StoredBlock | null>;
  /** The block with this seq, or null. */
  block(seq: number): Promise<StoredBlock | null>;
  /** Up to `limit` blocks with seq > `afterSeq`, ascending. */
  blocks(afterSeq: number, limit: number): Promise<StoredBlock[]>;
  /** Leaf rows (stored rows and leaves kept by retention) of each block id. */
  leaves(blockIds: readonly string[]): Promise<Map<string, LeafRow[]>>;
  /** Up to `limit` event rows whose block_id names no stored block, optionally in a time range. */
  orphans(limit: number, range?: { from?: string; to?: string }): Promise<OrphanRow[]>;
  /** The event with this id in this tenant, with its block and leaves; null when absent or not in a block. */
  proofData(id: string, tenantId: string): Promise<ProofData | null>;
  /** Partitions retention dropped, oldest first. */
  retentionLog(): Promise<RetentionRecord[]>;
  /** Existing monthly partitions, oldest first. */
  partitions(): Promise<PartitionInfo[]>;
  /**
   * Drops one partition: keeps the leaf hashes of blocks that also have rows elsewhere, and
   * records the purge, in one transaction. Returns the number of rows dropped.
   */
  dropPartition(name: string, exportFile: string | null): Promise<number>;
  /** Producer sequence ranges, gaps and gap records (the database does the sorting). */
  sequenceFacts(): Promise<SequenceFacts>;
}
