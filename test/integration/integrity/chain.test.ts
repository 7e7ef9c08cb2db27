/**
 * The chain under real conditions: concurrent appenders make one continuous chain, a
 * redelivered batch adds no leaf twice, the triggers refuse changes, proofs verify (and fail
 * for a modified event), retention keeps the chain verifiable, and completeness tells an
 * unexplained producer gap from one a gap record explains. PostgreSQL and PGlite.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sealEvent } from '../../../src/core/canonical.js';
import type { AuditEvent } from '../../../src/core/event.js';
import {
  buildProof,
  createKeyRing,
  createSigner,
  generateKeyPair,
  verifyProofDocument,
} from '../../../src/core/signing.js';
import { validateEvent } from '../../../src/core/validate.js';
import { checkCompleteness } from '../../../src/integrity/completeness.js';
import { applyRetention, planRetention } from '../../../src/integrity/retention.js';
import { verifyIntegrity } from '../../../src/integrity/verify.js';
import { PgliteStore } from '../../../src/store/pglite/store.js';
import type { StoreAdapter } from '../../../src/store/port.js';
import { dropSchema, sql, uniqueSchema } from '../../helpers/env.js';
import { makeEvents, pgStore } from './harness.js';

const keys = generateKeyPair();
const signer = createSigner(keys.privateKeyPem);
const ring = createKeyRing([keys.publicKeyPem]);

const schemas: string[] = [];
const opened: StoreAdapter[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(schemas.splice(0).map((s) => dropSchema(s)));
});

/** PGlite with a raw statement for tampering (the engine runs as its superuser). */
class RawPglite extends PgliteStore {
  raw<R>(text: string, params?: unknown[]): Promise<R[]> {
    return this.run<R>(text, params);
  }
}

async function newPg(label: string): Promise<{ schema: string; store: StoreAdapter }> {
  const schema = uniqueSchema(label);
  schemas.push(schema);
  const store = await pgStore(schema, signer);
  opened.push(store);
  return { schema, store };
}

async function newPglite(): Promise<RawPglite> {
  const store = new RawPglite({ signer });
  opened.push(store);
  await store.migrate();
  return store;
}

/** Leaf hashes in order and the proof document of `event`, from the store. */
async function proofOf(store: StoreAdapter, event: AuditEvent) {
  const data = await store.integrity.proofData(event.id, event.tenant_id);
  assert.ok(data, 'event has a block');
  const leaves: string[] = [];
  for (const l of data.leaves) leaves[l.leaf_index] = l.hash;
  return buildProof(data.event, data.leafIndex, leaves, data.block);
}

function gapRecord(producer: string, ranges: [number, number][]): AuditEvent {
  return sealEvent({
    ...validateEvent({
      event_type: 'audit.gap',
      event_category: 'critical',
      tenant_id: 'acme',
      metadata: { producer_id: producer, dropped_seq_ranges: ranges },
    }),
    producer_id: null,
    producer_seq: null,
  });
}

describe('integrity on PostgreSQL', () => {
  it('4 concurrent appenders with redeliveries build one continuous chain', async () => {
    const { schema, store } = await newPg('chain4');
    const appenders = [store];
    for (let i = 0; i < 3; i++) {
      const s = await pgStore(schema, signer);
      opened.push(s);
      appenders.push(s);
    }
    const batches = appenders.map(() => Array.from({ length: 12 }, () => makeEvents(150)));
    await Promise.all(
      appenders.map(async (s, i) => {
        for (const [j, batch] of batches[i]!.entries()) {
          await s.append(batch);
          // Redelivery of a neighbour's batch, racing the neighbour's own append.
          if (j % 3 === 0) await s.append(batches[(i + 1) % 4]![j]!);
        }
      }),
    );
    const total = 4 * 12 * 150;
    const [totals] = await sql<{ n: string; blocks: string; leaves: string; maxseq: string }>(
      `SELECT (SELECT count(*) FROM "${schema}".audit_logs)::text AS n,
              (SELECT count(*) FROM "${schema}".audit_blocks)::text AS blocks,
              (SELECT sum(count) FROM "${schema}".audit_blocks)::text AS leaves,
              (SELECT max(seq) FROM "${schema}".audit_blocks)::text AS maxseq`,
    );
    const { n, blocks, leaves, maxseq } = totals!;
    assert.equal(Number(n), total);
    assert.equal(Number(leaves), total, 'every row is exactly one leaf');
    assert.equal(Number(maxseq), Number(blocks), 'seq 1..N without a gap');
    const r = await verifyIntegrity(store, { keys: ring });
    assert.equal(r.ok, true, JSON.stringify(r.breaks.slice(0, 3)));
    assert.equal(r.blocks.checked, Number(blocks));
  });

  it('refuses UPDATE, DELETE and TRUNCATE on the log, its partitions and the blocks', async () => {
    const { schema, store } = await newPg('trig');
    await store.append(makeEvents(3));
    const t = `"${schema}"`;
    const [part] = await sql<{ p: string }>(
      `SELECT c.relname AS p FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '${t}.audit_logs'::regclass LIMIT 1`,
    );
    for (const stmt of [
      `UPDATE ${t}.audit_logs SET description = 'x'`,
      `DELETE FROM ${t}.audit_logs`,
      `TRUNCATE ${t}.audit_logs`,
      `TRUNCATE ${t}."${part!.p}"`,
      `UPDATE ${t}.audit_blocks SET count = 1`,
      `DELETE FROM ${t}.audit_blocks`,
      `TRUNCATE ${t}.audit_blocks`,
    ]) {
      await assert.rejects(sql(stmt), /append-only/, stmt);
    }
    assert.equal(await store.count(), 3);
  });

  it('proofs verify with the public key and fail for a modified event', async () => {
    const { store } = await newPg('proof');
    const events = makeEvents(37);
    await store.append(events);
    const proof = await proofOf(store, events[21]!);
    assert.deepEqual(verifyProofDocument(proof, keys.publicKeyPem), {
      ok: true,
      seq: 1,
      leafIndex: proof.leaf_index,
      signatureChecked: true,
    });
    const forged = { ...proof, event: { ...proof.event, description: 'forged' } };
    assert.equal(
      (verifyProofDocument(forged, keys.publicKeyPem) as { reason: string }).reason,
      'event_hash_mismatch',
    );
    assert.equal(await store.integrity.proofData('00000000-0000-4000-8000-000000000000', 'acme'), null);
  });

  it('retention drops an old partition, keeps every block, and verify reports the purged range', async () => {
    const { store } = await newPg('ret');
    const old = Date.now() - 400 * 86_400_000;
    await store.append(makeEvents(10, { at: old })); // a block wholly in the old month
    await store.append([...makeEvents(5, { at: old }), ...makeEvents(5)]); // a block straddling months
    await store.append(makeEvents(10)); // a recent block
    const plan = await planRetention(store, 200 * 86_400_000);
    assert.equal(plan.partitions.length, 1);
    const dropped = await applyRetention(store, plan, null);
    assert.deepEqual(
      dropped.map((d) => d.rows),
      [15],
    );
    assert.equal(await store.count(), 15);
    const r = await verifyIntegrity(store, { keys: ring });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.equal(r.blocks.checked, 3, 'every block row kept');
    assert.equal(r.blocks.purged, 1);
    assert.deepEqual(
      r.purged.map((p) => [p.partition, p.row_count]),
      [[plan.partitions[0]!.name, 15]],
    );
  });

  it('completeness reports an unexplained producer gap and accepts one a gap record explains', async () => {
    const { store } = await newPg('compl');
    const p1 = makeEvents(10, { producer: 'p1' }).filter((e) => e.producer_seq !== 4 && e.producer_seq !== 5);
    const p2 = makeEvents(6, { producer: 'p2' }).filter((e) => e.producer_seq !== 3 && e.producer_seq !== 4);
    await store.append([...p1, ...p2, gapRecord('p2', [[3, 4]])]);
    const c = await checkCompleteness(store);
    assert.equal(c.ok, false);
    assert.deepEqual(
      c.producers.map((p) => [p.producer_id, p.min_seq, p.max_seq, p.unexplained, p.explained]),
      [
        ['p1', 1, 10, [[4, 5]], []],
        ['p2', 1, 6, [], [[3, 4]]],
      ],
    );
  });
});

describe('integrity on PGlite', () => {
  it('appends blocks, adds no leaf twice on redelivery, verifies, proves and refuses changes', async () => {
    const store = await newPglite();
    const batch = makeEvents(40);
    assert.deepEqual(await store.append(batch), { inserted: 40, duplicates: 0 });
    assert.deepEqual(await store.append(batch), { inserted: 0, duplicates: 40 });
    const more = makeEvents(5);
    assert.deepEqual(await store.append([...batch.slice(0, 10), ...more]), { inserted: 5, duplicates: 10 });
    const blocks = await store.integrity.blocks(0, 10);
    assert.deepEqual(
      blocks.map((b) => [b.seq, b.count]),
      [
        [1, 40],
        [2, 5],
      ],
    );
    assert.equal((await verifyIntegrity(store, { keys: ring })).ok, true);
    const proof = await proofOf(store, more[2]!);
    assert.equal(verifyProofDocument(proof, keys.publicKeyPem).ok, true);

    await assert.rejects(store.raw('UPDATE auditline.audit_logs SET description = $1', ['x']), /append-only/);
    await assert.rejects(store.raw('DELETE FROM auditline.audit_blocks'), /append-only/);
    // A superuser can still switch the triggers off; verify then names the event.
    await store.raw('SET session_replication_role = replica');
    await store.raw('UPDATE auditline.audit_logs SET description = $1 WHERE id = $2', ['x', more[1]!.id]);
    await store.raw('SET session_replication_role = DEFAULT');
    const r = await verifyIntegrity(store);
    assert.deepEqual(
      r.breaks.map((b) => [b.kind, b.eventId]),
      [['event_altered', more[1]!.id]],
    );
  });
});

describe('redelivery on PostgreSQL', () => {
  it('a redelivered batch adds no leaf twice and appends no empty block', async () => {
    const { store } = await newPg('redeliver');
    const batch = makeEvents(30);
    await store.append(batch);
    await Promise.all([store.append(batch), store.append(batch)]);
    const fresh = makeEvents(3);
    const [a, b] = await Promise.all([
      store.append([...batch, ...fresh]),
      store.append([...fresh, ...batch]),
    ]);
    assert.equal(a.inserted + b.inserted, 3);
    const blocks = await store.integrity.blocks(0, 10);
    assert.deepEqual(
      blocks.map((x) => x.count),
      [30, 3],
    );
    assert.equal((await verifyIntegrity(store)).ok, true);
  });
});

describe('a duplicate inside one fresh batch', () => {
  it('is stored once, in one leaf (the first attempt COPYs without conflict handling)', async () => {
    const { store } = await newPg('dupinbatch');
    const [a, b, c] = makeEvents(3) as [AuditEvent, AuditEvent, AuditEvent];
    // An entry redelivered before its first delivery committed lands in the same batch twice.
    assert.deepEqual(await store.append([a, b, a, c, b]), { inserted: 3, duplicates: 2 });
    assert.equal(await store.count(), 3);
    const blocks = await store.integrity.blocks(0, 10);
    assert.deepEqual(
      blocks.map((x) => x.count),
      [3],
    );
    assert.equal((await verifyIntegrity(store)).ok, true);
  });
});

describe('signing turned on mid-chain', () => {
  it('verify with keys reports the unsigned blocks, and accepts them with allowUnsigned', async () => {
    const schema = uniqueSchema('unsigned');
    schemas.push(schema);
    const unsigned = await pgStore(schema, null);
    opened.push(unsigned);
    await unsigned.append(makeEvents(5));
    const signed = await pgStore(schema, signer);
    opened.push(signed);
    await signed.append(makeEvents(5));
    const strict = await verifyIntegrity(signed, { keys: ring });
    assert.equal(strict.ok, false);
    assert.equal(strict.firstBreak?.kind, 'signature_missing');
    assert.equal(strict.firstBreak?.seq, 1);
    const lenient = await verifyIntegrity(signed, { keys: ring, allowUnsigned: true });
    assert.equal(lenient.ok, true, JSON.stringify(lenient.breaks));
    assert.equal(lenient.blocks.checked, 2);
  });
});
