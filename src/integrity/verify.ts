/**
 * `auditline verify`: recomputes every event hash, every block's Merkle root from its rows
 * in leaf order, and the chain (with signatures when keys are given), streaming in chunks,
 * and reports each break it finds, the first one first.
 *
 * The chain (one small row per flush) is always checked whole; `from`/`to` restrict the
 * event hashes and Merkle roots to events and blocks in that time range. Blocks whose time
 * span lies wholly in a range retention dropped are counted as purged, not as breaks.
 */
import {
  type BlockRecord,
  type ChainBreakKind,
  GENESIS_SEQ,
  type LeafProblem,
  verifyBlockLeaves,
  verifyChain,
} from '../core/block.js';
import { hashEvent } from '../core/canonical.js';
import type { KeyRing } from '../core/signing.js';
import type { RetentionRecord, StoredBlock } from '../store/integrity-port.js';
import type { StoreAdapter } from '../store/port.js';
import { type CheckpointProblem, checkCheckpoint } from './checkpoint.js';

/** What can be wrong, from the most local (one event) to the whole chain. */
export type IntegrityBreakKind =
  | 'event_altered'
  | 'event_without_block'
  | ChainBreakKind
  | LeafProblem['kind']
  | CheckpointProblem['kind'];

/** One break, pinpointed. */
export interface IntegrityBreak {
  kind: IntegrityBreakKind;
  message: string;
  /** The block concerned. */
  seq?: number;
  /** The event concerned. */
  eventId?: string;
  /** Missing leaf positions. */
  leafIndexes?: number[];
}

export interface VerifyOptions {
  /** Inclusive lower bound on created_at for the event and block checks (ISO). */
  from?: string;
  /** Exclusive upper bound (ISO). */
  to?: string;
  /** Check every block's signature against these keys. */
  keys?: KeyRing;
  /**
   * With `keys`: accept unsigned blocks (written before signing was turned on) instead of
   * reporting them; signed blocks must still verify.
   */
  allowUnsigned?: boolean;
  /** A saved checkpoint the chain must still extend. */
  checkpoint?: unknown;
  /** Rows or blocks per read. Default 1000. */
  chunkSize?: number;
  /** Progress callback (the CLI draws a bar on a terminal). */
  onProgress?: (phase: 'blocks' | 'events', done: number, total: number) => void;
}

export interface VerifyReport {
  ok: boolean;
  blocks: { checked: number; purged: number; head: { seq: number; hash: string } | null };
  events: { checked: number };
  signaturesChecked: boolean;
  checkpoint: { seq: number; ok: boolean } | null;
  /** Ranges retention dropped (reported, not breaks). */
  purged: RetentionRecord[];
  firstBreak: IntegrityBreak | null;
  /** Every break found, up to {@link MAX_BREAKS}. */
  breaks: IntegrityBreak[];
}

/** Breaks listed at most; the first is what matters, the rest show the extent. */
export const MAX_BREAKS = 100;

function mergedRanges(records: readonly RetentionRecord[]): [number, number][] {
  const rs = records.map((r) => [Date.parse(r.range_start), Date.parse(r.range_end)] as [number, number]);
  rs.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([...r]);
  }
  return out;
}

/** Verifies the store's chain, blocks and events; never throws for tampering, only for I/O. */
export async function verifyIntegrity(
  store: Pick<StoreAdapter, 'integrity' | 'scan' | 'count'>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const chunk = options.chunkSize ?? 1000;
  const breaks: IntegrityBreak[] = [];
  const add = (b: IntegrityBreak) => {
    if (breaks.length < MAX_BREAKS) breaks.push(b);
  };
  const purged = await store.integrity.retentionLog();
  const purgedRanges = mergedRanges(purged);
  const isPurged = (b: BlockRecord) => {
    const lo = Date.parse(b.first_created_at);
    const hi = Date.parse(b.last_created_at);
    return purgedRanges.some(([s, e]) => lo >= s && hi < e);
  };
  const fromMs = options.from ? Date.parse(options.from) : Number.NEGATIVE_INFINITY;
  const toMs = options.to ? Date.parse(options.to) : Number.POSITIVE_INFINITY;
  const inRange = (b: BlockRecord) =>
    Date.parse(b.last_created_at) >= fromMs && Date.parse(b.first_created_at) < toMs;

  // 1. The chain and each block's leaves, in seq order, a chunk of blocks at a time.
  const head = await store.integrity.head();
  const totalBlocks = head?.seq ?? 0;
  let trusted: { seq: number; hash: string } | undefined;
  let lastVerified: { seq: number; hash: string } | null = null;
  let afterSeq = GENESIS_SEQ - 1;
  let checked = 0;
  let purgedBlocks = 0;
  for (;;) {
    const blocks = await store.integrity.blocks(afterSeq, chunk);
    if (blocks.length === 0) break;
    afterSeq = blocks[blocks.length - 1]!.seq;
    let rest: StoredBlock[] = blocks;
    while (rest.length > 0) {
      const res = verifyChain(rest, {
        after: trusted,
        verifier: options.keys,
        allowUnsigned: options.allowUnsigned ?? false,
      });
      if (res.ok) {
        trusted = res.head ?? trusted;
        break;
      }
      const br = res.break;
      add({ kind: br.kind, seq: br.seq, message: br.message });
      // Resume after the block the break was found at, trusting it, so later breaks show too.
      const at = rest.findIndex((b) => b.seq >= (br.kind === 'seq_gap' ? (br.to ?? br.seq) + 1 : br.seq));
      if (at < 0) break;
      trusted = { seq: rest[at]!.seq, hash: rest[at]!.hash };
      rest = rest.slice(at + 1);
    }
    lastVerified = trusted ?? lastVerified;
    const wanted = blocks.filter(inRange);
    const leaves = await store.integrity.leaves(wanted.map((b) => b.block_id));
    for (const b of wanted) {
      const rows = leaves.get(b.block_id) ?? [];
      if (rows.length === 0 && isPurged(b)) {
        purgedBlocks++;
        continue;
      }
      const problem = verifyBlockLeaves(b, rows);
      if (problem) {
        add({
          kind: problem.kind,
          seq: b.seq,
          message: problem.message,
          ...(problem.kind === 'leaf_missing' ? { leafIndexes: problem.leafIndexes } : {}),
        });
      }
    }
    checked += blocks.length;
    options.onProgress?.('blocks', checked, totalBlocks);
  }

  // 2. Every event's hash from its fields.
  const totalEvents = options.onProgress ? await store.count() : 0;
  let events = 0;
  const range = {
    ...(options.from ? { from: options.from } : {}),
    ...(options.to ? { to: options.to } : {}),
  };
  for await (const e of store.scan({ ...range, chunkSize: chunk })) {
    events++;
    if (hashEvent(e) !== e.hash) {
      add({
        kind: 'event_altered',
        eventId: e.id,
        message: `event ${e.id} (${e.created_at}) was altered: its fields do not hash to its stored hash`,
      });
    }
    if (options.onProgress && events % chunk === 0) options.onProgress('events', events, totalEvents);
  }
  options.onProgress?.('events', events, Math.max(events, totalEvents));

  // 3. Rows that no block accounts for (inserted behind auditline's back, or their block removed).
  for (const o of await store.integrity.orphans(10, range)) {
    add({
      kind: 'event_without_block',
      eventId: o.id,
      message: o.block_id
        ? `event ${o.id} (${o.created_at}) names block ${o.block_id}, which does not exist (block removed?)`
        : `event ${o.id} (${o.created_at}) belongs to no block (inserted outside auditline?)`,
    });
  }

  // 4. The saved checkpoint.
  let checkpoint: VerifyReport['checkpoint'] = null;
  if (options.checkpoint !== undefined) {
    const problem = await checkCheckpoint(store, options.checkpoint, options.keys);
    const seq = (options.checkpoint as { block?: { seq?: number } }).block?.seq ?? 0;
    checkpoint = { seq, ok: problem === null };
    if (problem)
      add({
        kind: problem.kind,
        ...(problem.seq === null ? {} : { seq: problem.seq }),
        message: problem.message,
      });
  }

  return {
    ok: breaks.length === 0,
    blocks: { checked, purged: purgedBlocks, head: lastVerified },
    events: { checked: events },
    signaturesChecked: options.keys !== undefined,
    checkpoint,
    purged,
    firstBreak: breaks[0] ?? null,
    breaks,
  };
}
