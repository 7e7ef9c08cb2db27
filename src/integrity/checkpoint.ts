/**
 * Checkpoints: the signed head of the chain as a small JSON document (`auditline
 * checkpoint`), to be kept outside the database (object lock, a SIEM, a ticket). `auditline
 * verify --checkpoint file` then proves the log still extends it: whoever rewrites the tail
 * consistently (recomputing every hash) cannot make the stored block at the checkpoint's seq
 * hash to the value saved elsewhere.
 */
import { type BlockRecord, computeBlockHash, verifyChain } from '../core/block.js';
import type { KeyRing } from '../core/signing.js';
import type { StoreAdapter } from '../store/port.js';

/** Format tag of {@link Checkpoint}. */
export const CHECKPOINT_FORMAT = 'auditline.checkpoint.v1';

/** The head of the chain at one moment. */
export interface Checkpoint {
  format: typeof CHECKPOINT_FORMAT;
  /** When the checkpoint was taken (ISO). */
  taken_at: string;
  block: BlockRecord;
}

/** The current head as a checkpoint, or null before the first block. */
export async function takeCheckpoint(store: Pick<StoreAdapter, 'integrity'>): Promise<Checkpoint | null> {
  const head = await store.integrity.head();
  if (!head) return null;
  const { block_id: _omit, ...block } = head;
  return { format: CHECKPOINT_FORMAT, taken_at: new Date().toISOString(), block };
}

/** Why a checkpoint does not hold. */
export type CheckpointProblem =
  | { kind: 'checkpoint_invalid'; seq: number | null; message: string }
  | { kind: 'checkpoint_missing'; seq: number; message: string }
  | { kind: 'checkpoint_mismatch'; seq: number; expected: string; actual: string; message: string };

/**
 * Checks that the stored chain still contains the checkpoint's block unchanged (the rest of
 * the chain from it is checked by `verify`'s chain pass). With `keys`, the checkpoint's own
 * signature must verify too.
 */
export async function checkCheckpoint(
  store: Pick<StoreAdapter, 'integrity'>,
  doc: unknown,
  keys?: KeyRing,
): Promise<CheckpointProblem | null> {
  const cp = doc as Partial<Checkpoint> | null;
  const b = cp?.block;
  if (!cp || cp.format !== CHECKPOINT_FORMAT || !b || typeof b !== 'object') {
    return { kind: 'checkpoint_invalid', seq: null, message: `not an ${CHECKPOINT_FORMAT} document` };
  }
  let computed: string;
  try {
    computed = computeBlockHash(b);
  } catch (err) {
    return { kind: 'checkpoint_invalid', seq: null, message: `checkpoint block: ${(err as Error).message}` };
  }
  if (computed !== b.hash) {
    return {
      kind: 'checkpoint_invalid',
      seq: b.seq,
      message: 'the checkpoint block does not hash to its hash',
    };
  }
  if (keys) {
    const res = verifyChain([b], { after: { seq: b.seq - 1, hash: b.prev_hash }, verifier: keys });
    if (!res.ok) {
      return { kind: 'checkpoint_invalid', seq: b.seq, message: `checkpoint: ${res.break.message}` };
    }
  }
  const stored = await store.integrity.block(b.seq);
  if (!stored) {
    return {
      kind: 'checkpoint_missing',
      seq: b.seq,
      message: `block ${b.seq} of the checkpoint is gone: the chain was cut back or rewritten`,
    };
  }
  if (stored.hash !== b.hash) {
    return {
      kind: 'checkpoint_mismatch',
      seq: b.seq,
      expected: b.hash,
      actual: stored.hash,
      message: `block ${b.seq} differs from the checkpoint: the chain was rewritten from seq ${b.seq} or earlier`,
    };
  }
  return null;
}
