/**
 * Ed25519 signing of block hashes (node:crypto only), key rings for rotation, and the
 * offline proof document that shows one event is in a signed block. Pure: keys come in and
 * go out as PEM strings; reading key files is the caller's job.
 *
 * A key's id is the first 16 hex characters (64 bits) of SHA-256 over the raw 32-byte
 * Ed25519 public key. Derived, not assigned: anyone holding the public key computes the same
 * id, so a block's `key_id` cannot point a verifier at the wrong key without the signature
 * failing. 64 bits is ample to tell an operator's handful of rotated keys apart; the
 * signature, not the id, is what carries the security.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import {
  type BlockRecord,
  type BlockSigner,
  computeBlockHash,
  hashBytes,
  type SignatureVerifier,
} from './block.js';
import { hashEvent } from './canonical.js';
import { ConfigError } from './errors.js';
import type { AuditEvent, UnhashedEvent } from './event.js';
import { HASH_BYTES, inclusionProof, leafHash, verifyInclusion } from './merkle.js';

/** A freshly generated Ed25519 key pair (`auditline keys generate`). */
export interface KeyPairPem {
  /** SPKI PEM: publish it (`GET /v1/integrity/public-key`). */
  publicKeyPem: string;
  /** PKCS#8 PEM: keep it secret; whoever holds it can re-sign a rewritten chain. */
  privateKeyPem: string;
  keyId: string;
}

/** Generates an Ed25519 key pair as PEM strings with its key id. */
export function generateKeyPair(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey),
  };
}

function ed25519PublicKey(key: string | KeyObject): KeyObject {
  let k: KeyObject;
  try {
    // createPublicKey also accepts a private key and derives its public half.
    k = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  } catch (err) {
    throw new ConfigError('not a valid public key PEM', { cause: err });
  }
  if (k.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`expected an Ed25519 key, got ${k.asymmetricKeyType ?? 'a secret key'}`);
  }
  return k;
}

/** The raw 32-byte Ed25519 public key. */
function rawPublicKey(k: KeyObject): Buffer {
  const jwk = k.export({ format: 'jwk' });
  return Buffer.from(String(jwk.x), 'base64url');
}

/** Key id of an Ed25519 public key (PEM or KeyObject): first 16 hex of SHA-256(raw key). */
export function keyIdOf(publicKey: string | KeyObject): string {
  const raw = rawPublicKey(ed25519PublicKey(publicKey));
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/** A {@link BlockSigner} that also exposes the public key to publish. */
export interface Signer extends BlockSigner {
  readonly publicKeyPem: string;
}

/**
 * A signer for block hashes from a PKCS#8 PEM Ed25519 private key. Throws ConfigError when
 * the PEM is not an Ed25519 private key, so a bad key fails at startup, not at first flush.
 */
export function createSigner(privateKeyPem: string): Signer {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    throw new ConfigError('signing key is not a valid private key PEM', { cause: err });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`signing key must be Ed25519, got ${key.asymmetricKeyType}`);
  }
  const publicKey = createPublicKey(key);
  return {
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    sign(hash: Buffer): string {
      // Only raw 32-byte hashes: signing a hex string by mistake would produce signatures
      // no verifier accepts.
      if (!(hash instanceof Uint8Array) || hash.length !== HASH_BYTES) {
        throw new TypeError('sign() takes the raw 32-byte block hash');
      }
      return sign(null, hash, key).toString('base64');
    },
  };
}

const ED25519_SIGNATURE_BYTES = 64;

function decodeSignature(signature: unknown): Buffer | null {
  if (typeof signature !== 'string') return null;
  const bytes = Buffer.from(signature, 'base64');
  // Canonical base64 only, so one signature has one stored spelling.
  if (bytes.length !== ED25519_SIGNATURE_BYTES || bytes.toString('base64') !== signature) return null;
  return bytes;
}

/** True when `signature` (base64) is a valid Ed25519 signature of `hash` by `publicKey`. Never throws. */
export function verifySignature(publicKey: string | KeyObject, hash: Uint8Array, signature: string): boolean {
  const sig = decodeSignature(signature);
  if (!sig || !(hash instanceof Uint8Array)) return false;
  try {
    return verify(null, hash, ed25519PublicKey(publicKey), sig);
  } catch {
    return false;
  }
}

/** Public keys by key id: verifies blocks signed by any key, current or rotated out. */
export interface KeyRing extends SignatureVerifier {
  /** Key id → SPKI PEM, e.g. to publish every key still needed to verify the chain. */
  readonly publicKeys: ReadonlyMap<string, string>;
}

/**
 * A key ring from public (or private) key PEMs; ids are derived from the keys, never taken
 * on trust. Keep rotated-out keys in it: old blocks stay signed by them. Throws ConfigError
 * for a key that is not Ed25519.
 */
export function createKeyRing(keys: Iterable<string>): KeyRing {
  const objects = new Map<string, KeyObject>();
  const publicKeys = new Map<string, string>();
  for (const pem of keys) {
    const k = ed25519PublicKey(pem);
    const id = keyIdOf(k);
    objects.set(id, k);
    publicKeys.set(id, k.export({ type: 'spki', format: 'pem' }).toString());
  }
  return {
    publicKeys,
    verify(keyId, hash, signature) {
      const k = objects.get(keyId);
      if (!k) return 'unknown_key';
      return verifySignature(k, hash, signature) ? 'valid' : 'invalid';
    },
  };
}

/** Format tag of {@link ProofDocument}; verifiers reject any other. */
export const PROOF_FORMAT = 'auditline.proof.v1';

/**
 * The offline proof that `event` is leaf `leaf_index` of the signed `block`: the
 * `GET /v1/events/:id/proof` body and the input of `auditline verify-proof`. Plain JSON.
 */
export interface ProofDocument {
  format: typeof PROOF_FORMAT;
  /** The event as stored, with its `hash`. */
  event: AuditEvent;
  leaf_index: number;
  /** Leaves in the block's tree; equals `block.count`. */
  tree_size: number;
  /** RFC 6962 audit path, leaf to root, hex. */
  audit_path: string[];
  block: BlockRecord;
  /** `block.key_id`, repeated so a reader knows which key to fetch before parsing the block. */
  public_key_id: string | null;
}

/**
 * Builds the proof for `event`, the leaf at `leafIndex` of `block`, whose hex event hashes
 * in leaf order are `blockLeaves`. Throws RangeError when the inputs do not agree (wrong
 * index, leaf count or root): serving a proof that cannot verify would only hide the
 * inconsistency, which `auditline verify` should pinpoint instead.
 */
export function buildProof(
  event: AuditEvent,
  leafIndex: number,
  blockLeaves: readonly string[],
  block: BlockRecord,
): ProofDocument {
  if (blockLeaves.length !== block.count) {
    throw new RangeError(
      `block ${block.seq} has count ${block.count} but ${blockLeaves.length} leaves were given`,
    );
  }
  if (blockLeaves[leafIndex] !== event.hash) {
    throw new RangeError(`leaf ${leafIndex} of block ${block.seq} is not event ${event.id}`);
  }
  const leaves = blockLeaves.map((h, i) => hashBytes(h, `blockLeaves[${i}]`));
  const path = inclusionProof(leaves, leafIndex);
  if (
    !verifyInclusion(
      leafHash(leaves[leafIndex]!),
      leafIndex,
      leaves.length,
      path,
      hashBytes(block.merkle_root),
    )
  ) {
    throw new RangeError(`the leaves given do not rebuild block ${block.seq}'s merkle_root`);
  }
  return {
    format: PROOF_FORMAT,
    event: { ...event },
    leaf_index: leafIndex,
    tree_size: leaves.length,
    audit_path: path.map((p) => p.toString('hex')),
    block: { ...block },
    public_key_id: block.key_id,
  };
}

/** Why a proof document was rejected. */
export type ProofFailure =
  | 'malformed'
  | 'event_hash_mismatch'
  | 'tree_size_mismatch'
  | 'inclusion_invalid'
  | 'block_hash_mismatch'
  | 'unsigned'
  | 'key_id_mismatch'
  | 'unknown_key_id'
  | 'signature_invalid';

/** Result of {@link verifyProofDocument}. */
export type ProofVerification =
  | { ok: true; seq: number; leafIndex: number; signatureChecked: boolean }
  | { ok: false; reason: ProofFailure; message: string };

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Verifies a proof document offline, trusting nothing in it: recomputes the event hash from
 * the event's fields (`hashEvent`), the leaf hash, the root via the audit path
 * (RFC 9162 §2.1.3.2) against `block.merkle_root`, the block hash, and the signature under
 * `keys` (a public key PEM or a {@link KeyRing}). Without `keys` the signature is not
 * checked and the result says so; such a proof only shows internal consistency, since
 * anyone can build one. Never throws.
 */
export function verifyProofDocument(doc: unknown, keys?: string | KeyRing): ProofVerification {
  const fail = (reason: ProofFailure, message: string): ProofVerification => ({ ok: false, reason, message });
  if (!isObject(doc) || doc.format !== PROOF_FORMAT)
    return fail('malformed', `not an ${PROOF_FORMAT} document`);
  const { event, block, leaf_index: leafIndex, tree_size: treeSize, audit_path: auditPath } = doc;
  if (!isObject(event) || typeof event.hash !== 'string')
    return fail('malformed', 'event is missing or has no hash');
  if (!isObject(block)) return fail('malformed', 'block is missing');
  if (typeof leafIndex !== 'number' || typeof treeSize !== 'number' || !Array.isArray(auditPath)) {
    return fail('malformed', 'leaf_index, tree_size or audit_path is missing');
  }
  const b = block as unknown as BlockRecord;

  let eventHash: string;
  let path: Buffer[];
  let root: Buffer;
  try {
    eventHash = hashEvent(event as unknown as UnhashedEvent);
    path = auditPath.map((p, i) => hashBytes(p as string, `audit_path[${i}]`));
    root = hashBytes(b.merkle_root, 'block.merkle_root');
  } catch (err) {
    return fail('malformed', (err as Error).message);
  }
  if (eventHash !== event.hash) {
    return fail(
      'event_hash_mismatch',
      'the event fields do not hash to its recorded hash: the event was altered',
    );
  }
  if (treeSize !== b.count)
    return fail('tree_size_mismatch', `tree_size ${treeSize} ≠ block count ${b.count}`);
  if (!verifyInclusion(leafHash(Buffer.from(eventHash, 'hex')), leafIndex, treeSize, path, root)) {
    return fail(
      'inclusion_invalid',
      `the audit path does not lead from the event to block ${b.seq}'s merkle_root`,
    );
  }
  let blockHash: string;
  try {
    blockHash = computeBlockHash(b);
  } catch (err) {
    return fail('malformed', `block: ${(err as Error).message}`);
  }
  if (blockHash !== b.hash)
    return fail('block_hash_mismatch', `block ${b.seq}'s fields do not hash to its hash`);
  if (keys === undefined) return { ok: true, seq: b.seq, leafIndex, signatureChecked: false };

  if (typeof b.signature !== 'string' || typeof b.key_id !== 'string') {
    return fail('unsigned', `block ${b.seq} is not signed`);
  }
  if (doc.public_key_id !== b.key_id) return fail('malformed', 'public_key_id differs from block.key_id');
  const hash = Buffer.from(blockHash, 'hex');
  if (typeof keys === 'string') {
    let givenId: string;
    try {
      givenId = keyIdOf(keys);
    } catch (err) {
      return fail('malformed', (err as Error).message);
    }
    if (givenId !== b.key_id) {
      return fail(
        'key_id_mismatch',
        `block ${b.seq} is signed by key ${b.key_id}, not the given key ${givenId}`,
      );
    }
    if (!verifySignature(keys, hash, b.signature))
      return fail('signature_invalid', `signature invalid at seq ${b.seq}`);
  } else {
    const status = keys.verify(b.key_id, hash, b.signature);
    if (status === 'unknown_key') return fail('unknown_key_id', `unknown key id ${b.key_id}`);
    if (status === 'invalid') return fail('signature_invalid', `signature invalid at seq ${b.seq}`);
  }
  return { ok: true, seq: b.seq, leafIndex, signatureChecked: true };
}
