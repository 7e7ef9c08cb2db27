/**
 * Every tamper case is detected and pinpointed by verify (PostgreSQL, a schema per test,
 * triggers switched off as a superuser would): altered field, deleted event, events swapped
 * between blocks, a forged row, an altered block, a removed block, and a tail rewritten
 * consistently (caught only by a saved checkpoint and by signatures).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createKeyRing, createSigner, generateKeyPair } from '../../../src/core/signing.js';
import { takeCheckpoint } from '../../../src/integrity/checkpoint.js';
import { verifyIntegrity } from '../../../src/integrity/verify.js';
import type { PostgresStore } from '../../../src/store/postgres/store.js';
import { dropSchema, uniqueSchema } from '../../helpers/env.js';
import { makeEvents, pgStore, placements, tamper } from './harness.js';

const schemas: string[] = [];
const stores: PostgresStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(schemas.splice(0).map((s) => dropSchema(s)));
});

const keys = generateKeyPair();
const ring = createKeyRing([keys.publicKeyPem]);

/** A signed store with three blocks of 20 events. */
async function setup() {
  const schema = uniqueSchema('integ');
  schemas.push(schema);
  const store = await pgStore(schema, createSigner(keys.privateKeyPem));
  stores.push(store);
  const events = [makeEvents(20), makeEvents(20), makeEvents(20)];
  for (const batch of events) assert.equal((await store.append(batch)).inserted, 20);
  const place = await placements(schema);
  return { schema, store, events: events.flat(), place, t: `"${schema}"` };
}

describe('verify pinpoints tampering (PostgreSQL)', () => {
  it('passes on an untouched log, with signatures', async () => {
    const { store } = await setup();
    const r = await verifyIntegrity(store, { keys: ring, chunkSize: 7 });
    assert.equal(r.ok, true, JSON.stringify(r.breaks));
    assert.deepEqual(r.blocks.head?.seq, 3);
    assert.equal(r.blocks.checked, 3);
    assert.equal(r.events.checked, 60);
  });

  it('names the event whose field was changed', async () => {
    const { store, events, t } = await setup();
    const victim = events[25]!;
    await tamper([
      [`UPDATE ${t}.audit_logs SET description = 'nothing happened' WHERE id = $1`, [victim.id]],
    ]);
    const r = await verifyIntegrity(store);
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.breaks.map((b) => [b.kind, b.eventId]),
      [['event_altered', victim.id]],
    );
  });

  it('--from/--to limit the event and Merkle checks to a time range', async () => {
    const { store, events, t } = await setup();
    const victim = events[25]!;
    await tamper([
      [`UPDATE ${t}.audit_logs SET description = 'nothing happened' WHERE id = $1`, [victim.id]],
    ]);
    const at = Date.parse(victim.created_at);
    const before = await verifyIntegrity(store, { to: new Date(at).toISOString() });
    assert.equal(before.ok, true, JSON.stringify(before.breaks));
    const around = await verifyIntegrity(store, {
      from: new Date(at).toISOString(),
      to: new Date(at + 1).toISOString(),
    });
    assert.deepEqual(
      [around.events.checked, around.firstBreak?.eventId],
      [events.filter((e) => e.created_at === victim.created_at).length, victim.id],
    );
  });

  it('names the block and leaf of a deleted event', async () => {
    const { store, events, place, t } = await setup();
    const victim = events[45]!;
    await tamper([[`DELETE FROM ${t}.audit_logs WHERE id = $1`, [victim.id]]]);
    const r = await verifyIntegrity(store);
    const where = place.get(victim.id)!;
    assert.equal(r.firstBreak?.kind, 'leaf_missing');
    assert.equal(r.firstBreak?.seq, where.seq);
    assert.deepEqual(r.firstBreak?.leafIndexes, [where.leaf]);
  });

  it('catches two events swapped between blocks', async () => {
    const { store, events, place, t } = await setup();
    const a = events[3]!;
    const b = events[33]!;
    const pa = place.get(a.id)!;
    const pb = place.get(b.id)!;
    await tamper([
      [
        `UPDATE ${t}.audit_logs SET block_id = $2, leaf_index = $3 WHERE id = $1`,
        [a.id, pb.blockId, pb.leaf],
      ],
      [
        `UPDATE ${t}.audit_logs SET block_id = $2, leaf_index = $3 WHERE id = $1`,
        [b.id, pa.blockId, pa.leaf],
      ],
    ]);
    const r = await verifyIntegrity(store);
    assert.deepEqual(
      r.breaks.map((x) => [x.kind, x.seq]),
      [
        ['root_mismatch', pa.seq],
        ['root_mismatch', pb.seq],
      ],
    );
  });

  it('catches an event inserted with a forged hash', async () => {
    const { store, t } = await setup();
    const forged = makeEvents(1)[0]!;
    await tamper([
      [
        `INSERT INTO ${t}.audit_logs (id, tenant_id, event_type, event_category, created_at, hash)
         VALUES ($1, 'acme', 'doc.delete', 'info', $2, decode(repeat('ab', 32), 'hex'))`,
        [forged.id, forged.created_at],
      ],
    ]);
    const r = await verifyIntegrity(store);
    assert.deepEqual(
      r.breaks.map((x) => [x.kind, x.eventId]),
      [
        ['event_altered', forged.id],
        ['event_without_block', forged.id],
      ],
    );
  });

  it('catches a block whose root was changed, at that block', async () => {
    const { store, t } = await setup();
    await tamper([
      [`UPDATE ${t}.audit_blocks SET merkle_root = decode(repeat('00', 32), 'hex') WHERE seq = 2`],
    ]);
    const r = await verifyIntegrity(store);
    assert.equal(r.firstBreak?.kind, 'hash_mismatch');
    assert.equal(r.firstBreak?.seq, 2);
  });

  it('catches a deleted block: a seq gap, and its events belong to no block', async () => {
    const { store, t } = await setup();
    await tamper([[`DELETE FROM ${t}.audit_blocks WHERE seq = 2`]]);
    const r = await verifyIntegrity(store);
    assert.equal(r.firstBreak?.kind, 'seq_gap');
    assert.equal(r.firstBreak?.seq, 2);
    assert.ok(r.breaks.some((b) => b.kind === 'event_without_block'));
  });

  it('a consistently rewritten tail passes alone, fails a saved checkpoint and the signatures', async () => {
    const { store, schema, t } = await setup();
    const checkpoint = await takeCheckpoint(store);
    assert.equal(checkpoint?.block.seq, 3);
    // The attacker drops blocks 2..3 with their rows and appends other events through a
    // store of their own: a valid chain, signed with the attacker's key.
    await tamper([
      [
        `DELETE FROM ${t}.audit_logs WHERE block_id IN (SELECT block_id FROM ${t}.audit_blocks WHERE seq >= 2)`,
      ],
      [`DELETE FROM ${t}.audit_blocks WHERE seq >= 2`],
    ]);
    const attacker = await pgStore(schema, createSigner(generateKeyPair().privateKeyPem));
    stores.push(attacker);
    await attacker.append(makeEvents(15));
    await attacker.append(makeEvents(25));

    const alone = await verifyIntegrity(store);
    assert.equal(alone.ok, true, 'without a checkpoint or keys the rewrite is self-consistent');

    const withCheckpoint = await verifyIntegrity(store, { checkpoint });
    assert.equal(withCheckpoint.firstBreak?.kind, 'checkpoint_mismatch');
    assert.equal(withCheckpoint.firstBreak?.seq, 3);

    const withKeys = await verifyIntegrity(store, { keys: ring });
    assert.equal(withKeys.firstBreak?.kind, 'unknown_key_id');
    assert.equal(withKeys.firstBreak?.seq, 2);
  });

  it('a checkpoint past the stored head shows the tail was cut off', async () => {
    const { store, t } = await setup();
    const checkpoint = await takeCheckpoint(store);
    await tamper([
      [
        `DELETE FROM ${t}.audit_logs WHERE block_id IN (SELECT block_id FROM ${t}.audit_blocks WHERE seq = 3)`,
      ],
      [`DELETE FROM ${t}.audit_blocks WHERE seq = 3`],
    ]);
    const r = await verifyIntegrity(store, { checkpoint });
    assert.deepEqual(
      r.breaks.map((b) => [b.kind, b.seq]),
      [['checkpoint_missing', 3]],
    );
  });
});
