import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BlockRecord, buildBlock, computeBlockHash } from '../../src/core/block.js';
import { sealEvent } from '../../src/core/canonical.js';
import { ConfigError } from '../../src/core/errors.js';
import type { AuditEvent } from '../../src/core/event.js';
import {
  buildProof,
  createKeyRing,
  createSigner,
  generateKeyPair,
  keyIdOf,
  type ProofDocument,
  verifyProofDocument,
  verifySignature,
} from '../../src/core/signing.js';
import { DEFAULT_VALIDATION, validateEvent } from '../../src/core/validate.js';

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const key = generateKeyPair();
const otherKey = generateKeyPair();
const signer = createSigner(key.privateKeyPem);
const hash32 = createHash('sha256').update('a block').digest();

function events(n: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) =>
    sealEvent(
      validateEvent(
        {
          event_type: 'document.update',
          user_id: `user-${i % 3}`,
          resource_type: 'document',
          resource_id: `doc-${i}`,
          description: `edit ${i}`,
          metadata: { field: 'title', n: i, nested: { ok: true } },
          ip_address: '203.0.113.7',
          created_at: NOW - 1000 + i,
        },
        DEFAULT_VALIDATION,
        NOW,
      ),
    ),
  );
}

/** A signed block over `evs`, appended after a genesis block so seq and prev_hash are non-trivial. */
function blockOf(evs: AuditEvent[]): BlockRecord {
  const genesis = buildBlock(
    null,
    [createHash('sha256').update('g').digest('hex')],
    [new Date(NOW).toISOString()],
  );
  return buildBlock(
    genesis,
    evs.map((e) => e.hash),
    evs.map((e) => e.created_at),
    signer,
  );
}

/** JSON round trip, as the proof travels over HTTP and sits in a file. */
const roundTrip = (doc: ProofDocument): ProofDocument => JSON.parse(JSON.stringify(doc)) as ProofDocument;

describe('Ed25519 keys and signatures', () => {
  it('generates PEM key pairs whose id is the first 16 hex of SHA-256 of the raw public key', () => {
    assert.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.match(key.privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const jwk = createPublicKey(key.publicKeyPem).export({ format: 'jwk' });
    const raw = Buffer.from(String(jwk.x), 'base64url');
    assert.equal(raw.length, 32);
    assert.equal(key.keyId, createHash('sha256').update(raw).digest('hex').slice(0, 16));
    assert.equal(keyIdOf(key.publicKeyPem), key.keyId);
    assert.equal(signer.keyId, key.keyId);
    assert.equal(keyIdOf(signer.publicKeyPem), key.keyId);
    assert.notEqual(otherKey.keyId, key.keyId);
  });

  it('signs a hash that verifies only with the right key and the same hash', () => {
    const sig = signer.sign(hash32);
    assert.equal(Buffer.from(sig, 'base64').length, 64);
    assert.equal(verifySignature(key.publicKeyPem, hash32, sig), true);
    assert.equal(verifySignature(otherKey.publicKeyPem, hash32, sig), false);
    const other = Buffer.from(hash32);
    other[0] = other[0]! ^ 1;
    assert.equal(verifySignature(key.publicKeyPem, other, sig), false);
  });

  it('rejects garbage signatures and keys without throwing', () => {
    assert.equal(verifySignature(key.publicKeyPem, hash32, ''), false);
    assert.equal(verifySignature(key.publicKeyPem, hash32, 'not base64!'), false);
    assert.equal(verifySignature(key.publicKeyPem, hash32, Buffer.alloc(63).toString('base64')), false);
    assert.equal(verifySignature('not a pem', hash32, signer.sign(hash32)), false);
  });

  it('signs only raw 32-byte hashes', () => {
    assert.throws(() => signer.sign(Buffer.from(hash32.toString('hex'))), TypeError);
  });

  it('refuses keys that are not Ed25519 private keys with a ConfigError', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecPem = ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => createSigner(ecPem), ConfigError);
    assert.throws(() => createSigner('garbage'), ConfigError);
    assert.throws(
      () => createKeyRing([ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()]),
      ConfigError,
    );
  });

  it('a key ring verifies signatures of every key in it and names unknown ones', () => {
    const ring = createKeyRing([key.publicKeyPem, otherKey.publicKeyPem]);
    assert.deepEqual([...ring.publicKeys.keys()].sort(), [key.keyId, otherKey.keyId].sort());
    const sig = signer.sign(hash32);
    assert.equal(ring.verify(key.keyId, hash32, sig), 'valid');
    assert.equal(ring.verify(otherKey.keyId, hash32, sig), 'invalid');
    assert.equal(ring.verify('0123456789abcdef', hash32, sig), 'unknown_key');
    // A private key PEM is accepted too: its public half is derived.
    assert.equal(createKeyRing([key.privateKeyPem]).verify(key.keyId, hash32, sig), 'valid');
  });
});

describe('offline proof documents', () => {
  const evs = events(11);
  const block = blockOf(evs);
  const leaves = evs.map((e) => e.hash);

  it('every event of a block has a proof that verifies offline after a JSON round trip', () => {
    for (let i = 0; i < evs.length; i++) {
      const doc = roundTrip(buildProof(evs[i]!, i, leaves, block));
      assert.equal(doc.tree_size, 11);
      assert.equal(doc.public_key_id, key.keyId);
      assert.deepEqual(verifyProofDocument(doc, key.publicKeyPem), {
        ok: true,
        seq: 2,
        leafIndex: i,
        signatureChecked: true,
      });
      assert.equal(
        verifyProofDocument(doc, createKeyRing([otherKey.publicKeyPem, key.publicKeyPem])).ok,
        true,
      );
    }
  });

  it('fails for a modified event field, whether or not the event hash is updated to match', () => {
    const doc = roundTrip(buildProof(evs[4]!, 4, leaves, block));
    const edits: Partial<AuditEvent>[] = [
      { description: 'edit 4 (changed)' },
      { user_id: 'someone-else' },
      { created_at: '2026-06-15T11:59:59.005Z' },
      { metadata: { field: 'title', n: 5, nested: { ok: true } } },
      { ip_address: '203.0.113.8' },
    ];
    for (const edit of edits) {
      const altered = { ...doc, event: { ...doc.event, ...edit } };
      assert.equal(verifyProofDocument(altered, key.publicKeyPem).ok, false);
      assert.deepEqual(reason(verifyProofDocument(altered, key.publicKeyPem)), 'event_hash_mismatch');
      const resealed = { ...altered, event: sealEvent(altered.event) };
      assert.equal(reason(verifyProofDocument(resealed, key.publicKeyPem)), 'inclusion_invalid');
    }
  });

  it('fails for a modified path, index, tree size, block or signature', () => {
    const doc = roundTrip(buildProof(evs[6]!, 6, leaves, block));
    const flipped = doc.audit_path.map((p, i) => (i === 1 ? p.replace(/^./, p[0] === 'a' ? 'b' : 'a') : p));
    assert.equal(
      reason(verifyProofDocument({ ...doc, audit_path: flipped }, key.publicKeyPem)),
      'inclusion_invalid',
    );
    assert.equal(
      reason(verifyProofDocument({ ...doc, leaf_index: 5 }, key.publicKeyPem)),
      'inclusion_invalid',
    );
    assert.equal(
      reason(verifyProofDocument({ ...doc, tree_size: 12 }, key.publicKeyPem)),
      'tree_size_mismatch',
    );

    const forgedRoot = buildBlock(null, [evs[6]!.hash], [evs[6]!.created_at]).merkle_root;
    const altered = { ...doc.block, merkle_root: forgedRoot };
    const badRoot = { ...doc, block: altered, leaf_index: 0, tree_size: 1, audit_path: [] };
    // A one-leaf tree whose root is the leaf: consistent path, but the block hash no longer matches.
    assert.equal(
      reason(verifyProofDocument({ ...badRoot, block: { ...altered, count: 1 } }, key.publicKeyPem)),
      'block_hash_mismatch',
    );
    const rehashed = { ...altered, count: 1 };
    rehashed.hash = computeBlockHash(rehashed);
    assert.equal(
      reason(verifyProofDocument({ ...badRoot, block: rehashed }, key.publicKeyPem)),
      'signature_invalid',
    );

    const sig = Buffer.from(doc.block.signature!, 'base64');
    sig[0] = sig[0]! ^ 0x80;
    const badSig = { ...doc, block: { ...doc.block, signature: sig.toString('base64') } };
    assert.equal(reason(verifyProofDocument(badSig, key.publicKeyPem)), 'signature_invalid');
  });

  it('names the key problem: another key, a ring without it, an unsigned block', () => {
    const doc = roundTrip(buildProof(evs[0]!, 0, leaves, block));
    assert.equal(reason(verifyProofDocument(doc, otherKey.publicKeyPem)), 'key_id_mismatch');
    assert.equal(reason(verifyProofDocument(doc, createKeyRing([otherKey.publicKeyPem]))), 'unknown_key_id');
    const unsignedBlock = buildBlock(
      null,
      leaves,
      evs.map((e) => e.created_at),
    );
    const unsigned = buildProof(evs[0]!, 0, leaves, unsignedBlock);
    assert.equal(reason(verifyProofDocument(unsigned, key.publicKeyPem)), 'unsigned');
    assert.deepEqual(verifyProofDocument(unsigned), {
      ok: true,
      seq: 1,
      leafIndex: 0,
      signatureChecked: false,
    });
  });

  it('rejects malformed documents without throwing', () => {
    const doc = roundTrip(buildProof(evs[0]!, 0, leaves, block));
    for (const bad of [
      null,
      'proof',
      [],
      {},
      { ...doc, format: 'auditline.proof.v0' },
      { ...doc, event: null },
      { ...doc, block: 'x' },
      { ...doc, audit_path: 'x' },
      { ...doc, audit_path: ['zz'] },
      { ...doc, block: { ...doc.block, merkle_root: 42 } },
      { ...doc, public_key_id: 'ffffffffffffffff' },
    ]) {
      assert.equal(reason(verifyProofDocument(bad, key.publicKeyPem)), 'malformed', JSON.stringify(bad));
    }
    assert.equal(reason(verifyProofDocument(doc, 'not a pem')), 'malformed');
  });

  it('refuses to build a proof from leaves that do not match the block', () => {
    assert.throws(() => buildProof(evs[0]!, 1, leaves, block), RangeError);
    assert.throws(() => buildProof(evs[0]!, 0, leaves.slice(0, 10), block), RangeError);
    const reordered = [leaves[0]!, leaves[2]!, leaves[1]!, ...leaves.slice(3)];
    assert.throws(() => buildProof(evs[0]!, 0, reordered, block), RangeError);
  });

  it('property: for random block sizes every proof verifies and a modified event fails', () => {
    const pool = events(40);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 8 }),
        (n, raw, text) => {
          const evsN = pool.slice(0, n);
          const b = buildBlock(
            null,
            evsN.map((e) => e.hash),
            evsN.map((e) => e.created_at),
            signer,
          );
          const i = raw % n;
          const doc = roundTrip(
            buildProof(
              evsN[i]!,
              i,
              evsN.map((e) => e.hash),
              b,
            ),
          );
          assert.equal(verifyProofDocument(doc, key.publicKeyPem).ok, true);
          const altered = { ...doc, event: { ...doc.event, description: `${doc.event.description}${text}` } };
          assert.equal(verifyProofDocument(altered, key.publicKeyPem).ok, false);
        },
      ),
      { numRuns: 60 },
    );
  });
});

function reason(r: ReturnType<typeof verifyProofDocument>): string {
  return r.ok ? 'ok' : r.reason;
}
