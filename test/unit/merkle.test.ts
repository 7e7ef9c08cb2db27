import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  consistencyProof,
  EMPTY_TREE_ROOT,
  inclusionProof,
  leafHash,
  merkleRoot,
  merkleRootOfHexLeaves,
  nodeHash,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/core/merkle.js';

// CI checks out shared/ (read-only) beside the repository.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vectorDir = path.resolve(repoRoot, '../shared/testvectors/rfc6962');

function load<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(vectorDir, name), 'utf8')) as T;
}

interface TreeVector {
  leaf_data: string;
  leaf_hash: string;
  root_hash: string;
}
interface InclusionVector {
  leaf_hash: string;
  leaf_index: number;
  tree_size: number;
  root_hash: string;
  inclusion_path: string[];
  comment?: string;
}
interface ConsistencyVector {
  old_size: number;
  new_size: number;
  old_root: string;
  new_root: string;
  consistency_path: string[];
  comment?: string;
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const tree = load<TreeVector[]>('merkle_tree.json');
const treeLeaves = tree.map((v) => Buffer.from(v.leaf_data, 'utf8'));
/** rootAt[n] = published root of the first n leaves (rootAt[0] = empty tree). */
const rootAt = [EMPTY_TREE_ROOT, ...tree.map((v) => b64(v.root_hash))];

/** RFC 6962 §2.1 MTH transcribed literally: the reference the fast implementation must match. */
function referenceRoot(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return createHash('sha256').digest();
  if (d.length === 1) return leafHash(d[0]!);
  const k = splitPoint(d.length);
  return nodeHash(referenceRoot(d.slice(0, k)), referenceRoot(d.slice(k)));
}

/** Distinct leaves (index-prefixed), so a proof for one position can never fit another. */
const leavesArb = (min: number, max: number) =>
  fc
    .array(fc.uint8Array({ minLength: 0, maxLength: 12 }), { minLength: min, maxLength: max })
    .map((arr) => arr.map((bytes, i) => Buffer.concat([Buffer.from(`${i}:`), bytes])));

function flipBit(buf: Uint8Array, bit: number): Buffer {
  const out = Buffer.from(buf);
  const i = Math.floor(bit / 8) % out.length;
  out[i] = out[i]! ^ (1 << (bit % 8));
  return out;
}

describe('RFC 6962 published vectors', () => {
  it('has the vector files beside the repository', () => {
    assert.ok(tree.length >= 10, `expected vectors in ${vectorDir}`);
  });

  it('the empty tree hashes to SHA-256 of the empty string', () => {
    assert.equal(EMPTY_TREE_ROOT.toString('hex'), createHash('sha256').update('').digest('hex'));
    assert.deepEqual(merkleRoot([]), EMPTY_TREE_ROOT);
  });

  it('leaf hashes and the tree head after each append match merkle_tree.json', () => {
    tree.forEach((v, k) => {
      assert.equal(leafHash(treeLeaves[k]!).toString('base64'), v.leaf_hash, `leaf ${k}`);
      assert.equal(
        merkleRoot(treeLeaves.slice(0, k + 1)).toString('base64'),
        v.root_hash,
        `root of ${k + 1}`,
      );
    });
  });

  it('accepts every valid inclusion proof', () => {
    const vectors = load<InclusionVector[]>('inclusion-valid.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const ok = verifyInclusion(
        b64(v.leaf_hash),
        v.leaf_index,
        v.tree_size,
        v.inclusion_path.map(b64),
        b64(v.root_hash),
      );
      assert.equal(ok, true, JSON.stringify(v));
    }
  });

  it('rejects every invalid inclusion proof', () => {
    const vectors = load<InclusionVector[]>('inclusion-invalid.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const ok = verifyInclusion(
        b64(v.leaf_hash),
        v.leaf_index,
        v.tree_size,
        v.inclusion_path.map(b64),
        b64(v.root_hash),
      );
      assert.equal(ok, false, v.comment);
    }
  });

  it('accepts every valid consistency proof', () => {
    const vectors = load<ConsistencyVector[]>('consistency-valid.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const ok = verifyConsistency(
        v.old_size,
        v.new_size,
        v.consistency_path.map(b64),
        b64(v.old_root),
        b64(v.new_root),
      );
      assert.equal(ok, true, JSON.stringify(v));
    }
  });

  it('rejects every invalid consistency proof', () => {
    const vectors = load<ConsistencyVector[]>('consistency-invalid.json');
    assert.ok(vectors.length > 0);
    for (const v of vectors) {
      const ok = verifyConsistency(
        v.old_size,
        v.new_size,
        v.consistency_path.map(b64),
        b64(v.old_root),
        b64(v.new_root),
      );
      assert.equal(ok, false, `${v.comment}: ${JSON.stringify(v)}`);
    }
  });

  it('generates the published audit paths and consistency proofs', () => {
    for (const v of load<InclusionVector[]>('inclusion-valid.json')) {
      const leaves = treeLeaves.slice(0, v.tree_size);
      assert.deepEqual(rootAt[v.tree_size], b64(v.root_hash), 'vector uses the merkle_tree.json leaves');
      const got = inclusionProof(leaves, v.leaf_index).map((p) => p.toString('base64'));
      assert.deepEqual(got, v.inclusion_path);
    }
    for (const v of load<ConsistencyVector[]>('consistency-valid.json')) {
      const got = consistencyProof(treeLeaves.slice(0, v.new_size), v.old_size).map((p) =>
        p.toString('base64'),
      );
      assert.deepEqual(got, v.consistency_path);
    }
  });

  it('every inclusion and consistency proof over the vector leaves verifies against the published roots', () => {
    for (let n = 1; n <= treeLeaves.length; n++) {
      const leaves = treeLeaves.slice(0, n);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(leaves, i);
        assert.ok(verifyInclusion(leafHash(leaves[i]!), i, n, proof, rootAt[n]!), `inclusion ${i} in ${n}`);
      }
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(leaves, m);
        assert.ok(verifyConsistency(m, n, proof, rootAt[m]!, rootAt[n]!), `consistency ${m} → ${n}`);
      }
    }
  });
});

describe('merkle tree properties', () => {
  it('merkleRoot equals the RFC recursive definition for every size 0..300', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => Buffer.from(`leaf ${i}`));
    for (let n = 0; n <= 300; n++) {
      assert.deepEqual(merkleRoot(leaves.slice(0, n)), referenceRoot(leaves.slice(0, n)), `n=${n}`);
    }
  });

  it('merkleRootOfHexLeaves equals merkleRoot over the decoded hashes for every size 0..300', () => {
    const hexes = Array.from({ length: 300 }, (_, i) =>
      createHash('sha256').update(`event ${i}`).digest('hex'),
    );
    for (let n = 0; n <= 300; n++) {
      const slice = hexes.slice(0, n);
      assert.deepEqual(
        merkleRootOfHexLeaves(slice),
        merkleRoot(slice.map((h) => Buffer.from(h, 'hex'))),
        `n=${n}`,
      );
    }
  });

  it('merkleRootOfHexLeaves rejects an entry that is not 64 hex digits', () => {
    const good = 'ab'.repeat(32);
    for (const bad of [
      'ab'.repeat(31),
      `${'ab'.repeat(31)}zz`,
      `${'ab'.repeat(32)}00`,
      `g${'a'.repeat(63)}`,
    ]) {
      assert.throws(() => merkleRootOfHexLeaves([good, bad]), TypeError, bad);
    }
  });

  it('splitPoint is the largest power of two strictly below n', () => {
    assert.deepEqual([2, 3, 4, 5, 8, 9, 16, 17].map(splitPoint), [1, 2, 2, 4, 4, 8, 8, 16]);
  });

  it('every inclusion proof verifies, and fails for a modified leaf, index or root', () => {
    fc.assert(
      fc.property(
        leavesArb(1, 70),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 255 }),
        (leaves, rawIndex, rawOther, bit) => {
          const n = leaves.length;
          const i = rawIndex % n;
          const root = merkleRoot(leaves);
          const proof = inclusionProof(leaves, i);
          const lh = leafHash(leaves[i]!);
          assert.ok(verifyInclusion(lh, i, n, proof, root));
          assert.equal(verifyInclusion(flipBit(lh, bit), i, n, proof, root), false, 'modified leaf');
          assert.equal(
            verifyInclusion(leafHash(Buffer.concat([leaves[i]!, Buffer.from('x')])), i, n, proof, root),
            false,
          );
          assert.equal(verifyInclusion(lh, i, n, proof, flipBit(root, bit)), false, 'modified root');
          const other = (i + 1 + (rawOther % Math.max(1, n - 1))) % n;
          if (other !== i) assert.equal(verifyInclusion(lh, other, n, proof, root), false, 'modified index');
          assert.equal(verifyInclusion(lh, n, n, proof, root), false, 'index out of range');
          if (proof.length > 0) {
            const k = rawOther % proof.length;
            const tampered = proof.map((p, j) => (j === k ? flipBit(p, bit) : p));
            assert.equal(verifyInclusion(lh, i, n, tampered, root), false, 'modified path');
            assert.equal(verifyInclusion(lh, i, n, proof.slice(0, -1), root), false, 'truncated path');
          }
          assert.equal(verifyInclusion(lh, i, n, [...proof, root], root), false, 'extended path');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('every consistency proof verifies, and fails for a modified old or new root', () => {
    fc.assert(
      fc.property(leavesArb(1, 70), fc.nat(), fc.nat({ max: 255 }), (leaves, rawM, bit) => {
        const n = leaves.length;
        const m = rawM % (n + 1);
        const oldRoot = merkleRoot(leaves.slice(0, m));
        const newRoot = merkleRoot(leaves);
        const proof = consistencyProof(leaves, m);
        assert.ok(verifyConsistency(m, n, proof, oldRoot, newRoot));
        assert.equal(verifyConsistency(m, n, proof, flipBit(oldRoot, bit), newRoot), false, 'old root');
        // Every tree extends the empty one, so the new root only matters when 0 < m < n.
        if (m > 0 && m < n)
          assert.equal(verifyConsistency(m, n, proof, oldRoot, flipBit(newRoot, bit)), false, 'new root');
        assert.equal(verifyConsistency(n, m, proof, newRoot, oldRoot), m === n, 'sizes swapped');
      }),
      { numRuns: 300 },
    );
  });

  it('rejects malformed input without throwing', () => {
    const leaves = treeLeaves.slice(0, 5);
    const root = merkleRoot(leaves);
    const proof = inclusionProof(leaves, 2);
    const lh = leafHash(leaves[2]!);
    assert.equal(verifyInclusion(lh, -1, 5, proof, root), false);
    assert.equal(verifyInclusion(lh, 2.5, 5, proof, root), false);
    assert.equal(verifyInclusion(lh, 2, 0, proof, root), false);
    assert.equal(verifyInclusion(lh.subarray(0, 31), 2, 5, proof, root), false);
    assert.equal(verifyInclusion(lh, 2, 5, [Buffer.alloc(3), ...proof.slice(1)], root), false);
    assert.equal(verifyConsistency(2, 5, [Buffer.alloc(31)], root, root), false);
    assert.equal(verifyConsistency(3, 5, [], merkleRoot(leaves.slice(0, 3)), root), false, 'empty proof');
  });

  it('refuses to build a proof for a position outside the tree', () => {
    assert.throws(() => inclusionProof(treeLeaves.slice(0, 3), 3), RangeError);
    assert.throws(() => inclusionProof([], 0), RangeError);
    assert.throws(() => consistencyProof(treeLeaves.slice(0, 3), 4), RangeError);
  });

  it('handles a 10,000-leaf block (the order of a large flush)', () => {
    const leaves = Array.from({ length: 10_000 }, (_, i) => createHash('sha256').update(String(i)).digest());
    const root = merkleRoot(leaves);
    for (const i of [0, 4095, 8191, 8192, 9999]) {
      const proof = inclusionProof(leaves, i);
      // ⌈log2 10000⌉ = 14 levels at most; the ragged right edge has shorter paths.
      assert.ok(proof.length <= 14 && (i >= 8192 || proof.length === 14));
      assert.ok(verifyInclusion(leafHash(leaves[i]!), i, leaves.length, proof, root), `leaf ${i}`);
    }
    const proof = consistencyProof(leaves, 5000);
    assert.ok(verifyConsistency(5000, 10_000, proof, merkleRoot(leaves.slice(0, 5000)), root));
  });
});
