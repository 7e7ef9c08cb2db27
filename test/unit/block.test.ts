import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  type BlockRecord,
  buildBlock,
  type ChainVerification,
  computeBlockHash,
  encodeBlockHeader,
  GENESIS_PREV_HASH,
  GENESIS_SEQ,
  verifyBlockLeaves,
  verifyChain,
} from '../../src/core/block.js';
import { merkleRoot } from '../../src/core/merkle.js';
import { createKeyRing, createSigner, generateKeyPair } from '../../src/core/signing.js';

const keyA = generateKeyPair();
const keyB = generateKeyPair();
const signerA = createSigner(keyA.privateKeyPem);
const signerB = createSigner(keyB.privateKeyPem);
const ringAB = createKeyRing([keyA.publicKeyPem, keyB.publicKeyPem]);

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
/** Recorded from the first implementation of the v1 encoding; must never change. */
const KNOWN_HASH = 'bbab5f72326a6896f7eb7d2e61ba86259d44370f340ab85997a06eba16229613';
const T0 = Date.parse('2026-06-15T12:00:00.000Z');

/** Event hashes and created_at values of flush `b` with `n` events. */
function flush(b: number, n: number): { hashes: string[]; times: string[] } {
  const hashes = Array.from({ length: n }, (_, i) => sha(`event ${b}.${i}`));
  // Deliberately not sorted: interleaved producers deliver out of time order.
  const times = Array.from({ length: n }, (_, i) => new Date(T0 + b * 1000 + ((i * 7) % n)).toISOString());
  return { hashes, times };
}

/** A chain of `len` blocks, the first `rotateAt` signed by key A and the rest by key B. */
function chain(len: number, rotateAt = len): BlockRecord[] {
  const out: BlockRecord[] = [];
  for (let b = 0; b < len; b++) {
    const { hashes, times } = flush(b, 3 + b);
    out.push(buildBlock(out.at(-1) ?? null, hashes, times, b < rotateAt ? signerA : signerB));
  }
  return out;
}

/** Recomputes a block's hash after a field was changed (an attacker without the key). */
function rehash(b: BlockRecord): BlockRecord {
  return { ...b, hash: computeBlockHash(b) };
}

function breakOf(r: ChainVerification) {
  assert.equal(r.ok, false, 'chain should not verify');
  if (r.ok) throw new Error('unreachable');
  return r.break;
}

describe('block hash encoding (v1)', () => {
  it('is SHA-256 of the documented 110-byte layout', () => {
    const header = {
      seq: 7,
      prev_hash: sha('prev'),
      merkle_root: sha('root'),
      count: 3,
      first_created_at: '2026-06-15T12:00:00.001Z',
      last_created_at: '2026-06-15T12:00:02.999Z',
    };
    // Built independently of the implementation, field by field as the module comment says.
    const seq = Buffer.alloc(8);
    seq.writeBigUInt64BE(7n);
    const count = Buffer.alloc(4);
    count.writeUInt32BE(3);
    const first = Buffer.alloc(8);
    first.writeBigInt64BE(BigInt(Date.parse(header.first_created_at)));
    const last = Buffer.alloc(8);
    last.writeBigInt64BE(BigInt(Date.parse(header.last_created_at)));
    const expected = Buffer.concat([
      Buffer.from('auditline.block.v1', 'ascii'),
      Buffer.from(header.prev_hash, 'hex'),
      Buffer.from(header.merkle_root, 'hex'),
      seq,
      count,
      first,
      last,
    ]);
    assert.equal(expected.length, 110);
    assert.deepEqual(encodeBlockHeader(header), expected);
    assert.equal(computeBlockHash(header), createHash('sha256').update(expected).digest('hex'));
    // Frozen: a change here breaks every stored chain, so it must be a new version.
    assert.equal(computeBlockHash(header), KNOWN_HASH);
  });

  it('hashes timestamps at millisecond precision, so database round trips verify', () => {
    const base = {
      seq: 1,
      prev_hash: GENESIS_PREV_HASH,
      merkle_root: sha('r'),
      count: 1,
      first_created_at: '2026-06-15T12:00:00.123Z',
      last_created_at: '2026-06-15T12:00:00.123Z',
    };
    const h = computeBlockHash(base);
    // PostgreSQL keeps µs; a ms value comes back with trailing zeros or with an offset.
    assert.equal(computeBlockHash({ ...base, first_created_at: '2026-06-15T12:00:00.123000Z' }), h);
    assert.equal(computeBlockHash({ ...base, last_created_at: '2026-06-15T14:00:00.123+02:00' }), h);
    assert.notEqual(computeBlockHash({ ...base, last_created_at: '2026-06-15T12:00:00.124Z' }), h);
  });

  it('rejects malformed headers', () => {
    const ok = {
      seq: 1,
      prev_hash: GENESIS_PREV_HASH,
      merkle_root: sha('r'),
      count: 1,
      first_created_at: '2026-06-15T12:00:00.000Z',
      last_created_at: '2026-06-15T12:00:00.000Z',
    };
    assert.throws(() => computeBlockHash({ ...ok, prev_hash: 'ab' }), TypeError);
    assert.throws(() => computeBlockHash({ ...ok, merkle_root: sha('r').toUpperCase() }), TypeError);
    assert.throws(() => computeBlockHash({ ...ok, seq: -1 }), TypeError);
    assert.throws(() => computeBlockHash({ ...ok, seq: 1.5 }), TypeError);
    assert.throws(() => computeBlockHash({ ...ok, count: 2 ** 32 }), TypeError);
    assert.throws(() => computeBlockHash({ ...ok, first_created_at: 'yesterday' }), TypeError);
  });
});

describe('buildBlock', () => {
  it('builds the genesis block and links the next one', () => {
    const { hashes, times } = flush(0, 5);
    const g = buildBlock(null, hashes, times);
    assert.equal(g.seq, GENESIS_SEQ);
    assert.equal(g.prev_hash, GENESIS_PREV_HASH);
    assert.equal(g.count, 5);
    assert.equal(g.merkle_root, merkleRoot(hashes.map((h) => Buffer.from(h, 'hex'))).toString('hex'));
    assert.equal(g.hash, computeBlockHash(g));
    assert.equal(g.signature, null);
    assert.equal(g.key_id, null);
    const next = buildBlock(g, hashes, times, signerA);
    assert.equal(next.seq, 2);
    assert.equal(next.prev_hash, g.hash);
    assert.equal(next.key_id, keyA.keyId);
    assert.ok(ringAB.verify(keyA.keyId, Buffer.from(next.hash, 'hex'), next.signature!) === 'valid');
  });

  it('spans the earliest to the latest created_at, whatever the leaf order', () => {
    const b = buildBlock(
      null,
      [sha('a'), sha('b'), sha('c')],
      ['2026-06-15T12:00:05.000Z', '2026-06-15T12:00:01.500Z', '2026-06-15T12:00:09.250Z'],
    );
    assert.equal(b.first_created_at, '2026-06-15T12:00:01.500Z');
    assert.equal(b.last_created_at, '2026-06-15T12:00:09.250Z');
  });

  it('refuses an empty flush, mismatched lengths and malformed input', () => {
    assert.throws(() => buildBlock(null, [], []), RangeError);
    assert.throws(() => buildBlock(null, [sha('a')], []), RangeError);
    assert.throws(() => buildBlock(null, ['xyz'], ['2026-06-15T12:00:00.000Z']), TypeError);
    assert.throws(() => buildBlock(null, [sha('a')], ['not a date']), TypeError);
  });

  it('checks every timestamp of a run of equal ones and after it (equal neighbours are parsed once)', () => {
    const t = '2026-06-15T12:00:00.000Z';
    const h = [sha('a'), sha('b'), sha('c'), sha('d')];
    const run = buildBlock(null, h, [t, t, '2026-06-15T11:59:59.999Z', t]);
    assert.equal(run.first_created_at, '2026-06-15T11:59:59.999Z');
    assert.equal(run.last_created_at, t);
    for (const bad of ['not a date', '', null, undefined, 1781524800000]) {
      const message = /^createdAts\[2\] is not a valid timestamp$/;
      assert.throws(() => buildBlock(null, h, [t, t, bad as string, t]), { name: 'TypeError', message });
      const twice = [t, t, bad, bad] as string[];
      assert.throws(() => buildBlock(null, h, twice), { name: 'TypeError', message });
      assert.throws(() => buildBlock(null, h.slice(0, 2), [bad, bad] as string[]), TypeError);
    }
  });
});

describe('verifyChain', () => {
  it('verifies an intact signed chain and returns its head', () => {
    const blocks = chain(6);
    const r = verifyChain(blocks, { verifier: ringAB });
    assert.deepEqual(r, { ok: true, verified: 6, head: { seq: 6, hash: blocks[5]!.hash } });
    assert.deepEqual(verifyChain([]), { ok: true, verified: 0, head: null });
  });

  it('detects a changed merkle root at its own block', () => {
    const blocks = chain(5);
    blocks[2] = { ...blocks[2]!, merkle_root: sha('forged') };
    const br = breakOf(verifyChain(blocks, { verifier: ringAB }));
    assert.equal(br.kind, 'hash_mismatch');
    assert.equal(br.seq, 3);
    assert.equal(br.message, "hash mismatch at seq 3: the block's fields were altered");
  });

  it('detects a changed count', () => {
    const blocks = chain(5);
    blocks[1] = { ...blocks[1]!, count: blocks[1]!.count - 1 };
    assert.deepEqual(pick(breakOf(verifyChain(blocks))), { kind: 'hash_mismatch', seq: 2 });
  });

  it('detects a root changed with a recomputed hash: by signature, else by the next link', () => {
    const blocks = chain(5);
    blocks[2] = rehash({ ...blocks[2]!, merkle_root: sha('forged') });
    assert.deepEqual(pick(breakOf(verifyChain(blocks, { verifier: ringAB }))), {
      kind: 'signature_invalid',
      seq: 3,
    });
    assert.deepEqual(pick(breakOf(verifyChain(blocks))), { kind: 'prev_hash_mismatch', seq: 4 });
  });

  it('detects a removed block as a seq gap', () => {
    const blocks = chain(6);
    blocks.splice(2, 2);
    const br = breakOf(verifyChain(blocks));
    assert.deepEqual({ ...pick(br), to: br.to }, { kind: 'seq_gap', seq: 3, to: 4 });
    assert.equal(br.message, 'seq gap: blocks 3..4 are missing');
  });

  it('detects removed leading blocks unless verifying a range after a trusted block', () => {
    const blocks = chain(5);
    const tail = blocks.slice(2);
    assert.deepEqual({ ...pick(breakOf(verifyChain(tail))), to: 2 }, { kind: 'seq_gap', seq: 1, to: 2 });
    const after = { seq: blocks[1]!.seq, hash: blocks[1]!.hash };
    assert.deepEqual(verifyChain(tail, { after }), {
      ok: true,
      verified: 3,
      head: { seq: 5, hash: blocks[4]!.hash },
    });
    const wrongAnchor = { seq: 2, hash: blocks[0]!.hash };
    assert.deepEqual(pick(breakOf(verifyChain(tail, { after: wrongAnchor }))), {
      kind: 'prev_hash_mismatch',
      seq: 3,
    });
  });

  it('detects reordered blocks', () => {
    const blocks = chain(5);
    const swapped = [blocks[0]!, blocks[2]!, blocks[1]!, blocks[3]!, blocks[4]!];
    assert.deepEqual(pick(breakOf(verifyChain(swapped))), { kind: 'seq_out_of_order', seq: 2 });
    // Swapping contents and renumbering to keep seq ascending changes hashed data.
    const renumbered = [blocks[0]!, { ...blocks[2]!, seq: 2 }, { ...blocks[1]!, seq: 3 }, blocks[3]!];
    assert.deepEqual(pick(breakOf(verifyChain(renumbered))), { kind: 'hash_mismatch', seq: 2 });
  });

  it('detects a fork: two blocks built on the same head', () => {
    const blocks = chain(3);
    const { hashes, times } = flush(99, 4);
    const rival = buildBlock(blocks[1]!, hashes, times, signerA);
    assert.equal(rival.seq, 3);
    const br = breakOf(verifyChain([...blocks, rival], { verifier: ringAB }));
    assert.deepEqual(pick(br), { kind: 'fork', seq: 3 });
  });

  it('detects a forked prev_hash even when hash and signature are consistent', () => {
    const blocks = chain(5);
    // An insider with the key re-links block 4 onto block 2 and re-signs it.
    const forged = rehash({ ...blocks[3]!, prev_hash: blocks[1]!.hash });
    forged.signature = signerA.sign(Buffer.from(forged.hash, 'hex'));
    blocks[3] = forged;
    const br = breakOf(verifyChain(blocks, { verifier: ringAB }));
    assert.deepEqual(pick(br), { kind: 'prev_hash_mismatch', seq: 4 });
    assert.equal(br.expected, blocks[2]!.hash);
    assert.equal(br.actual, blocks[1]!.hash);
  });

  it('detects a tampered genesis link', () => {
    const blocks = chain(2);
    blocks[0] = rehash({ ...blocks[0]!, prev_hash: sha('not zero') });
    assert.deepEqual(pick(breakOf(verifyChain(blocks))), { kind: 'prev_hash_mismatch', seq: 1 });
  });

  it('detects a bad signature', () => {
    const blocks = chain(4);
    const sig = Buffer.from(blocks[1]!.signature!, 'base64');
    sig[10] = sig[10]! ^ 1;
    blocks[1] = { ...blocks[1]!, signature: sig.toString('base64') };
    assert.deepEqual(pick(breakOf(verifyChain(blocks, { verifier: ringAB }))), {
      kind: 'signature_invalid',
      seq: 2,
    });
    // Signatures are only checked when asked to.
    assert.equal(verifyChain(blocks).ok, true);
  });

  it('detects a signature by another key claiming the ring key id', () => {
    const blocks = chain(3);
    const hash = Buffer.from(blocks[2]!.hash, 'hex');
    blocks[2] = { ...blocks[2]!, signature: signerB.sign(hash) };
    assert.deepEqual(pick(breakOf(verifyChain(blocks, { verifier: ringAB }))), {
      kind: 'signature_invalid',
      seq: 3,
    });
  });

  it('keeps verifying after a key rotation while the old key stays in the ring', () => {
    const blocks = chain(6, 3);
    assert.equal(blocks[2]!.key_id, keyA.keyId);
    assert.equal(blocks[3]!.key_id, keyB.keyId);
    assert.equal(verifyChain(blocks, { verifier: ringAB }).ok, true);
    const br = breakOf(verifyChain(blocks, { verifier: createKeyRing([keyB.publicKeyPem]) }));
    assert.deepEqual({ ...pick(br), keyId: br.keyId }, { kind: 'unknown_key_id', seq: 1, keyId: keyA.keyId });
  });

  it('requires signatures when a verifier is given, unless unsigned blocks are allowed', () => {
    const blocks = chain(3);
    blocks[1] = { ...blocks[1]!, signature: null, key_id: null };
    assert.deepEqual(pick(breakOf(verifyChain(blocks, { verifier: ringAB }))), {
      kind: 'signature_missing',
      seq: 2,
    });
    assert.equal(verifyChain(blocks, { verifier: ringAB, allowUnsigned: true }).ok, true);
    blocks[1] = { ...blocks[1]!, signature: 'AAAA' };
    assert.deepEqual(pick(breakOf(verifyChain(blocks, { verifier: ringAB }))), { kind: 'malformed', seq: 2 });
  });

  it('reports a malformed block instead of throwing', () => {
    const blocks = chain(3);
    blocks[1] = { ...blocks[1]!, merkle_root: 'zz' };
    assert.deepEqual(pick(breakOf(verifyChain(blocks))), { kind: 'malformed', seq: 2 });
  });

  it('counts the blocks verified before the break', () => {
    const blocks = chain(5);
    blocks[3] = { ...blocks[3]!, count: 1 };
    assert.equal(verifyChain(blocks).verified, 3);
  });
});

describe('verifyBlockLeaves', () => {
  const { hashes, times } = flush(1, 7);
  const block = buildBlock(null, hashes, times);
  const rows = hashes.map((hash, leaf_index) => ({ leaf_index, hash }));

  it('accepts the rows the block was built from, in any row order', () => {
    assert.equal(verifyBlockLeaves(block, [...rows].reverse()), null);
  });

  it('pinpoints a deleted event', () => {
    const r = verifyBlockLeaves(
      block,
      rows.filter((x) => x.leaf_index !== 4),
    );
    assert.deepEqual(r && r.kind === 'leaf_missing' ? r.leafIndexes : r, [4]);
  });

  it('detects an altered hash, swapped positions, duplicates and out-of-range positions', () => {
    const altered = rows.map((x) => (x.leaf_index === 2 ? { ...x, hash: sha('forged') } : x));
    assert.equal(verifyBlockLeaves(block, altered)?.kind, 'root_mismatch');
    const swapped = rows.map((x) => ({
      ...x,
      leaf_index: x.leaf_index === 0 ? 1 : x.leaf_index === 1 ? 0 : x.leaf_index,
    }));
    assert.equal(verifyBlockLeaves(block, swapped)?.kind, 'root_mismatch');
    assert.equal(verifyBlockLeaves(block, [...rows, rows[3]!])?.kind, 'leaf_duplicate');
    assert.equal(
      verifyBlockLeaves(block, [...rows, { leaf_index: 7, hash: sha('x') }])?.kind,
      'leaf_out_of_range',
    );
  });
});

function pick(b: { kind: string; seq: number }): { kind: string; seq: number } {
  return { kind: b.kind, seq: b.seq };
}
