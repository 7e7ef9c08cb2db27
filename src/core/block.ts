/**
 * Blocks: one per committed worker flush, chained by hash. Pure: no I/O, node:crypto only.
 *
 * ## Byte encoding of a block hash (version 1)
 *
 * `hash = SHA-256(preimage)`, hex-encoded lower case, where `preimage` is these 110 bytes:
 *
 * | offset | bytes | field |
 * |---|---|---|
 * | 0 | 18 | ASCII `auditline.block.v1` (domain tag: a block hash can never be mistaken for an event or Merkle hash, and a future v2 cannot collide with v1) |
 * | 18 | 32 | `prev_hash` raw bytes; 32 zero bytes for the genesis block |
 * | 50 | 32 | `merkle_root` raw bytes (RFC 6962 root over the block's event hashes) |
 * | 82 | 8 | `seq`, unsigned 64-bit big-endian |
 * | 90 | 4 | `count` (number of leaves = tree size), unsigned 32-bit big-endian |
 * | 94 | 8 | `first_created_at`, epoch milliseconds, signed 64-bit big-endian |
 * | 102 | 8 | `last_created_at`, epoch milliseconds, signed 64-bit big-endian |
 *
 * Every field has a fixed width, so no separator or length prefix is needed and no two
 * different blocks share a preimage. `count` is hashed because it is the tree size an
 * inclusion proof is checked against. Timestamps are hashed at millisecond precision: events'
 * `created_at` is milliseconds and PostgreSQL stores microseconds, so a millisecond value
 * reads back exactly and the hash still verifies after a round trip through the database.
 * `signature` and `key_id` are not hashed: the signature is over the hash, and the key id is
 * derived from the key that checks it.
 *
 * The genesis block has `seq` {@link GENESIS_SEQ} and `prev_hash` {@link GENESIS_PREV_HASH}.
 */
import { createHash } from 'node:crypto';
import { HASH_BYTES, merkleRoot, merkleRootOfHexLeaves } from './merkle.js';

/** A block row as stored in `audit_blocks` and published in proofs and checkpoints. */
export interface BlockRecord {
  /** Position in the chain, {@link GENESIS_SEQ} for the first block, then +1 each. */
  seq: number;
  /** Hex `hash` of the previous block, or {@link GENESIS_PREV_HASH}. */
  prev_hash: string;
  /** Hex RFC 6962 root over the block's event hashes in leaf order. */
  merkle_root: string;
  /** Number of events (leaves) in the block, ≥ 1. */
  count: number;
  /** Earliest `created_at` of the block's events, ISO-8601 (millisecond precision hashed). */
  first_created_at: string;
  /** Latest `created_at` of the block's events, ISO-8601. */
  last_created_at: string;
  /** Hex SHA-256 of the version-1 encoding (see the module comment). */
  hash: string;
  /** Base64 Ed25519 signature of the raw 32 hash bytes, or null when unsigned. */
  signature: string | null;
  /** Id of the key that made `signature` (see `signing.ts`), or null when unsigned. */
  key_id: string | null;
}

/** The hashed fields of a block. */
export type BlockHeader = Pick<
  BlockRecord,
  'seq' | 'prev_hash' | 'merkle_root' | 'count' | 'first_created_at' | 'last_created_at'
>;

/** Signs block hashes; `createSigner` in `signing.ts` makes one from an Ed25519 key. */
export interface BlockSigner {
  /** Stored in the block's `key_id` so verifiers pick the right key after a rotation. */
  readonly keyId: string;
  /** Base64 signature of the raw 32-byte block hash. */
  sign(hash: Buffer): string;
}

/** Checks block signatures; `createKeyRing` in `signing.ts` makes one for Ed25519 keys. */
export interface SignatureVerifier {
  verify(keyId: string, hash: Buffer, signature: string): 'valid' | 'invalid' | 'unknown_key';
}

/** Domain tag at the start of every version-1 block preimage. */
export const BLOCK_DOMAIN_TAG = 'auditline.block.v1';
/** `prev_hash` of the genesis block: 32 zero bytes, hex. */
export const GENESIS_PREV_HASH = '0'.repeat(HASH_BYTES * 2);
/** `seq` of the genesis block. */
export const GENESIS_SEQ = 1;

const TAG_BYTES = Buffer.from(BLOCK_DOMAIN_TAG, 'ascii');
const HEX_HASH = /^[0-9a-f]{64}$/;
const MAX_COUNT = 0xffff_ffff;

/** Decodes a lower-case hex SHA-256 into its 32 bytes; throws TypeError otherwise. */
export function hashBytes(hex: string, field = 'hash'): Buffer {
  // Lower case only: one spelling per hash, so string comparison of stored hashes is sound.
  if (typeof hex !== 'string' || !HEX_HASH.test(hex)) {
    throw new TypeError(`${field} must be 64 lower-case hex characters`);
  }
  return Buffer.from(hex, 'hex');
}

/** Epoch milliseconds of an ISO-8601 timestamp; throws TypeError when it does not parse. */
export function timestampMs(value: string, field = 'timestamp'): number {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`${field} is not a valid timestamp`);
  return ms;
}

/** The version-1 preimage bytes of a block header (layout in the module comment). */
export function encodeBlockHeader(h: BlockHeader): Buffer {
  if (!Number.isSafeInteger(h.seq) || h.seq < 0) throw new TypeError('seq must be a non-negative integer');
  if (!Number.isInteger(h.count) || h.count < 0 || h.count > MAX_COUNT) {
    throw new TypeError('count must be an integer in 0..2^32-1');
  }
  const out = Buffer.alloc(TAG_BYTES.length + 2 * HASH_BYTES + 8 + 4 + 8 + 8);
  let o = TAG_BYTES.copy(out, 0);
  o += hashBytes(h.prev_hash, 'prev_hash').copy(out, o);
  o += hashBytes(h.merkle_root, 'merkle_root').copy(out, o);
  o = out.writeBigUInt64BE(BigInt(h.seq), o);
  o = out.writeUInt32BE(h.count, o);
  o = out.writeBigInt64BE(BigInt(timestampMs(h.first_created_at, 'first_created_at')), o);
  out.writeBigInt64BE(BigInt(timestampMs(h.last_created_at, 'last_created_at')), o);
  return out;
}

/** Hex SHA-256 of the block header's version-1 encoding. Throws TypeError on a malformed header. */
export function computeBlockHash(h: BlockHeader): string {
  return createHash('sha256').update(encodeBlockHeader(h)).digest('hex');
}

/** The RFC 6962 leaf data of each event: the 32 raw bytes of its hex SHA-256 `hash`. */
export function eventLeaves(eventHashes: readonly string[]): Buffer[] {
  return eventHashes.map((h, i) => hashBytes(h, `eventHashes[${i}]`));
}

/** The part of a block that depends only on its events (computed before the chain lock). */
export type BlockBody = Pick<BlockHeader, 'merkle_root' | 'count' | 'first_created_at' | 'last_created_at'>;

/**
 * Computes a block's Merkle root, count and time span from its events' hashes (leaf order)
 * and created_at values. Pure and independent of the chain, so a writer can do this work
 * before it takes the lock that serializes appends.
 */
export function blockBody(eventHashes: readonly string[], createdAts: readonly string[]): BlockBody {
  if (eventHashes.length === 0) throw new RangeError('a block needs at least one event');
  if (eventHashes.length !== createdAts.length) {
    throw new RangeError(`${eventHashes.length} event hashes but ${createdAts.length} timestamps`);
  }
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < createdAts.length; i++) {
    const t = createdAts[i];
    // Leaf order is id order, and UUIDv7 ids start with their creation millisecond: runs of
    // equal timestamps are common, and a value equal to the one checked before adds nothing.
    if (i > 0 && t === createdAts[i - 1]) continue;
    // As timestampMs(t, `createdAts[${i}]`), without building the field name per event.
    const ms = typeof t === 'string' ? Date.parse(t) : Number.NaN;
    if (!Number.isFinite(ms)) throw new TypeError(`createdAts[${i}] is not a valid timestamp`);
    if (ms < first) first = ms;
    if (ms > last) last = ms;
  }
  return {
    merkle_root: merkleRootOfHexLeaves(eventHashes).toString('hex'),
    count: eventHashes.length,
    // Min and max rather than first and last in leaf order: events from several producers
    // arrive interleaved, and `verify --from/--to` needs the block's true time span.
    first_created_at: new Date(first).toISOString(),
    last_created_at: new Date(last).toISOString(),
  };
}

/** Links a block body to the chain after `prev` (null: genesis), hashes and optionally signs it. */
export function sealBlock(
  prev: Pick<BlockRecord, 'seq' | 'hash'> | null,
  body: BlockBody,
  signer?: BlockSigner,
): BlockRecord {
  const header: BlockHeader = {
    seq: prev ? prev.seq + 1 : GENESIS_SEQ,
    prev_hash: prev ? prev.hash : GENESIS_PREV_HASH,
    ...body,
  };
  const hash = computeBlockHash(header);
  return {
    ...header,
    hash,
    signature: signer ? signer.sign(Buffer.from(hash, 'hex')) : null,
    key_id: signer ? signer.keyId : null,
  };
}

/**
 * Builds the block for one flush: `eventHashes` are the hex hashes of the events that flush
 * actually inserted, in leaf order (the order the integrator records as each row's leaf
 * position), and `createdAts` their `created_at` in the same order. `prev` is the current
 * chain head, or null for the genesis block. Signs the hash when a signer is given.
 *
 * A flush that inserted nothing (all duplicates) appends no block, so an empty list throws
 * RangeError, as do mismatched lengths; a malformed hash or timestamp throws TypeError.
 */
export function buildBlock(
  prev: Pick<BlockRecord, 'seq' | 'hash'> | null,
  eventHashes: readonly string[],
  createdAts: readonly string[],
  signer?: BlockSigner,
): BlockRecord {
  return sealBlock(prev, blockBody(eventHashes, createdAts), signer);
}

/** Why a chain does not verify; `seq` is the first block affected. */
export type ChainBreakKind =
  /** A field cannot be decoded (bad hex, timestamp, seq or count). */
  | 'malformed'
  /** Blocks `seq`..`to` are missing (removed, or never written). */
  | 'seq_gap'
  /** Block `seq` appears after a later block in the input. */
  | 'seq_out_of_order'
  /** Two different blocks claim `seq`: concurrent appenders forked the chain. */
  | 'fork'
  /** The stored hash does not match the block's fields: the block was altered. */
  | 'hash_mismatch'
  /** `prev_hash` is not the previous block's hash: block replaced, inserted or forked. */
  | 'prev_hash_mismatch'
  /** A verifier was given but the block is unsigned. */
  | 'signature_missing'
  /** The block's `key_id` is not in the key ring. */
  | 'unknown_key_id'
  /** The signature does not verify under the key named by `key_id`. */
  | 'signature_invalid';

/** The first break found by {@link verifyChain}. */
export interface ChainBreak {
  kind: ChainBreakKind;
  seq: number;
  /** Last missing seq, for `seq_gap`. */
  to?: number;
  /** What the verifier computed or expected (hex), for hash and prev_hash mismatches. */
  expected?: string;
  /** What the block carries. */
  actual?: string;
  keyId?: string;
  /** One line for a human, e.g. `hash mismatch at seq 42`. */
  message: string;
}

/** Result of {@link verifyChain}; `verified` counts blocks that passed before any break. */
export type ChainVerification =
  | { ok: true; verified: number; head: { seq: number; hash: string } | null }
  | { ok: false; verified: number; break: ChainBreak };

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /**
   * The trusted block just before `blocks[0]` (from an earlier verification or a saved
   * checkpoint), to verify a range. Absent: `blocks[0]` must be the genesis block.
   */
  after?: { seq: number; hash: string };
  /** Checks every block's signature when given; without it signatures are not looked at. */
  verifier?: SignatureVerifier;
  /** With a verifier, accept unsigned blocks (written before signing was enabled). Default false. */
  allowUnsigned?: boolean;
}

/**
 * Verifies a run of blocks given in ascending `seq` order (as `ORDER BY seq` returns them)
 * and reports the first break. Per block, in this order: the seq follows its predecessor,
 * the stored hash matches the fields, `prev_hash` links to the predecessor, then the
 * signature. Checking the hash before the link pins an altered block on itself rather than
 * on its successor.
 *
 * Limits: the chain alone cannot show that blocks were cut off the *end*; compare the head
 * with a saved checkpoint for that. Nor does it look at events: check each block's
 * `merkle_root` against its rows with {@link verifyBlockLeaves}.
 */
export function verifyChain(
  blocks: readonly BlockRecord[],
  options: VerifyChainOptions = {},
): ChainVerification {
  const { after, verifier, allowUnsigned = false } = options;
  const seqs = new Set(blocks.map((b) => b.seq));
  let prev: { seq: number; hash: string } =
    after ?? ({ seq: GENESIS_SEQ - 1, hash: GENESIS_PREV_HASH } as const);
  let verified = 0;
  const fail = (b: Omit<ChainBreak, 'message'>, message: string): ChainVerification => ({
    ok: false,
    verified,
    break: { ...b, message },
  });

  for (const block of blocks) {
    const seq = block.seq;
    if (!Number.isSafeInteger(seq))
      return fail({ kind: 'malformed', seq: prev.seq + 1 }, 'seq is not an integer');
    const want = prev.seq + 1;
    if (verified === 0 && !after && seq < GENESIS_SEQ) {
      return fail({ kind: 'malformed', seq }, `block seq ${seq} is below the genesis seq ${GENESIS_SEQ}`);
    }
    if (seq === prev.seq) {
      return fail({ kind: 'fork', seq }, `fork at seq ${seq}: two blocks claim seq ${seq}`);
    }
    if (seq < want) {
      return fail({ kind: 'seq_out_of_order', seq }, `block seq ${seq} appears after seq ${prev.seq}`);
    }
    if (seq > want) {
      if (seqs.has(want)) {
        return fail({ kind: 'seq_out_of_order', seq: want }, `block seq ${want} appears after seq ${seq}`);
      }
      const to = seq - 1;
      return fail({ kind: 'seq_gap', seq: want, to }, `seq gap: blocks ${want}..${to} are missing`);
    }

    let computed: string;
    try {
      computed = computeBlockHash(block);
    } catch (err) {
      return fail({ kind: 'malformed', seq }, `malformed block at seq ${seq}: ${(err as Error).message}`);
    }
    if (computed !== block.hash) {
      return fail(
        { kind: 'hash_mismatch', seq, expected: computed, actual: String(block.hash) },
        `hash mismatch at seq ${seq}: the block's fields were altered`,
      );
    }
    if (block.prev_hash !== prev.hash) {
      return fail(
        { kind: 'prev_hash_mismatch', seq, expected: prev.hash, actual: block.prev_hash },
        `prev_hash mismatch at seq ${seq}: it does not link to block ${prev.seq}`,
      );
    }
    if (verifier) {
      const sigBreak = checkSignature(block, verifier, allowUnsigned);
      if (sigBreak) return fail(sigBreak, sigBreak.message);
    }
    prev = { seq, hash: block.hash };
    verified += 1;
  }
  return { ok: true, verified, head: verified > 0 || after ? prev : null };
}

function checkSignature(
  block: BlockRecord,
  verifier: SignatureVerifier,
  allowUnsigned: boolean,
): ChainBreak | null {
  const { seq, signature, key_id: keyId } = block;
  if (signature == null && keyId == null) {
    return allowUnsigned ? null : { kind: 'signature_missing', seq, message: `block ${seq} is not signed` };
  }
  if (typeof signature !== 'string' || typeof keyId !== 'string') {
    return { kind: 'malformed', seq, message: `block ${seq} has a signature without key_id or vice versa` };
  }
  const status = verifier.verify(keyId, Buffer.from(block.hash, 'hex'), signature);
  if (status === 'unknown_key') {
    return { kind: 'unknown_key_id', seq, keyId, message: `unknown key id ${keyId} at seq ${seq}` };
  }
  if (status === 'invalid') {
    return { kind: 'signature_invalid', seq, keyId, message: `signature invalid at seq ${seq}` };
  }
  return null;
}

/** One event row as seen by {@link verifyBlockLeaves}. */
export interface LeafRow {
  /** The row's recorded position in its block's tree. */
  leaf_index: number;
  /** The row's hex event hash (recompute it from the row first; see `canonical.ts`). */
  hash: string;
}

/** Why a block's rows do not match its `merkle_root`. */
export type LeafProblem =
  | { kind: 'leaf_missing'; leafIndexes: number[]; message: string }
  | { kind: 'leaf_duplicate'; leafIndex: number; message: string }
  | { kind: 'leaf_out_of_range'; leafIndex: number; message: string }
  | { kind: 'root_mismatch'; expected: string; actual: string; message: string };

/**
 * Checks that the event rows recorded in a block rebuild its `merkle_root`: every position
 * 0..count-1 present exactly once, and the root over their hashes in position order equals
 * the block's. Pinpoints missing positions (a deleted event); a root mismatch with all
 * positions present means an event's hash or position was changed or events were swapped.
 */
export function verifyBlockLeaves(block: BlockHeader, rows: readonly LeafRow[]): LeafProblem | null {
  const byIndex = new Array<string | undefined>(block.count);
  for (const row of rows) {
    const i = row.leaf_index;
    if (!Number.isInteger(i) || i < 0 || i >= block.count) {
      return {
        kind: 'leaf_out_of_range',
        leafIndex: i,
        message: `leaf ${i} is outside block ${block.seq} of ${block.count} leaves`,
      };
    }
    if (byIndex[i] !== undefined) {
      return {
        kind: 'leaf_duplicate',
        leafIndex: i,
        message: `leaf ${i} of block ${block.seq} appears twice`,
      };
    }
    byIndex[i] = row.hash;
  }
  const missing: number[] = [];
  for (let i = 0; i < block.count; i++) if (byIndex[i] === undefined) missing.push(i);
  if (missing.length > 0) {
    return {
      kind: 'leaf_missing',
      leafIndexes: missing,
      message: `block ${block.seq} is missing leaf ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}`,
    };
  }
  let root: string;
  try {
    root = merkleRoot(eventLeaves(byIndex as string[])).toString('hex');
  } catch {
    root = '(malformed event hash)';
  }
  if (root !== block.merkle_root) {
    return {
      kind: 'root_mismatch',
      expected: block.merkle_root,
      actual: root,
      message: `merkle root mismatch in block ${block.seq}: its events do not rebuild the recorded root`,
    };
  }
  return null;
}
