/**
 * The integrity commands as users run them (`node dist/cli/main.js`; `npm run build`
 * first) and the integrity routes: keys generate, verify (JSON, signatures, completeness,
 * checkpoint), checkpoint, proofs from GET /v1/events/:id/proof checked offline by
 * verify-proof (and refused once modified), and retention with export.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { createSigner } from '../../../src/core/signing.js';
import { errorHandler } from '../../../src/http/errors.js';
import { integrityRoutes } from '../../../src/http/routes/integrity.js';
import type { PostgresStore } from '../../../src/store/postgres/store.js';
import { DATABASE_URL, dropSchema, REDIS_URL, uniqueSchema } from '../../helpers/env.js';
import { assertBuilt, CLI } from '../../helpers/processes.js';
import { makeEvents, pgStore, tamper } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'auditline-integrity-'));
const schema = uniqueSchema('icli');
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  REDIS_URL,
  DATABASE_URL,
  AUDITLINE_SCHEMA: schema,
};
const stores: PostgresStore[] = [];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function app(store: PostgresStore) {
  const a = Fastify();
  a.setErrorHandler(errorHandler);
  a.register(async (v1) => integrityRoutes(v1, { store }), { prefix: '/v1' });
  return a;
}

const pub = join(dir, 'auditline-public-key.pem');
let store: PostgresStore;
const old = Date.now() - 400 * 86_400_000;
const recent = makeEvents(30, { producer: 'p1' });

before(async () => {
  assertBuilt();
  const gen = cli('keys', 'generate', '--out', dir);
  assert.equal(gen.code, 0, gen.err);
  assert.match(gen.out, /^key_id [0-9a-f]{16}$/m);
  store = await pgStore(schema, createSigner(readFileSync(join(dir, 'auditline-signing-key.pem'), 'utf8')));
  stores.push(store);
  await store.append(makeEvents(12, { at: old }));
  await store.append(recent.filter((e) => e.producer_seq !== 7));
  await store.append(makeEvents(8));
});

after(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

describe('integrity CLI and routes', () => {
  it('keys generate never overwrites a key', () => {
    const again = cli('keys', 'generate', '--out', dir);
    assert.equal(again.code, 1);
    assert.match(again.err, /EEXIST|exists/);
  });

  it('verify passes with signatures and prints JSON; --completeness flags the unexplained gap', () => {
    const ok = cli('verify', '--public-key', pub, '--json');
    assert.equal(ok.code, 0, ok.out + ok.err);
    const report = JSON.parse(ok.out);
    assert.equal(report.ok, true);
    assert.equal(report.signaturesChecked, true);
    assert.equal(report.blocks.checked, 3);
    const human = cli('verify');
    assert.equal(human.code, 0);
    assert.match(human.out, /OK: everything verifies/);
    const gaps = cli('verify', '--completeness', '--json');
    assert.equal(gaps.code, 1);
    assert.deepEqual(JSON.parse(gaps.out).completeness.producers[0].unexplained, [[7, 7]]);
  });

  it('serves the public key, the head and proofs that verify-proof checks offline', async () => {
    const a = app(store);
    const key = await a.inject({ url: '/v1/integrity/public-key' });
    assert.equal(key.statusCode, 200);
    assert.equal(key.json().key_id, store.integrity.publicKey()?.keyId);
    const head = await a.inject({ url: '/v1/integrity/head' });
    assert.equal(head.json().block.seq, 3);
    const target = recent[4]!;
    const proof = await a.inject({ url: `/v1/events/${target.id}/proof?tenant_id=acme` });
    assert.equal(proof.statusCode, 200, proof.body);
    const file = join(dir, 'proof.json');
    writeFileSync(file, proof.body);
    const good = cli('verify-proof', file, '--public-key', pub);
    assert.equal(good.code, 0, good.out + good.err);
    assert.match(good.out, /OK: the event is leaf \d+ of block 2/);
    const doc = proof.json();
    doc.event.user_id = 'someone-else';
    writeFileSync(file, JSON.stringify(doc));
    const bad = cli('verify-proof', file, '--public-key', pub);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /event_hash_mismatch/);
    const missing = await a.inject({ url: `/v1/events/${target.id}/proof?tenant_id=other` });
    assert.equal(missing.statusCode, 404);
    await a.close();

    const unsigned = await pgStore(schema, null);
    stores.push(unsigned);
    const b = app(unsigned);
    assert.equal((await b.inject({ url: '/v1/integrity/public-key' })).statusCode, 404);
    await b.close();
  });

  it('retention exports and drops the old partition; verify then reports the purged range', () => {
    const dry = cli('retention', '--older-than', '200d');
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /would drop audit_logs_\d{4}_\d{2}/);
    const exportDir = join(dir, 'export');
    const run = cli('retention', '--older-than', '200d', '--export-dir', exportDir, '--yes');
    assert.equal(run.code, 0, run.err);
    const [, part, file] =
      /dropped (audit_logs_\d{4}_\d{2}): 12 events, exported to (\S+)/.exec(run.out) ?? [];
    assert.ok(part && file, run.out);
    const lines = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n');
    assert.equal(lines.length, 12);
    const v = cli('verify', '--public-key', pub, '--json');
    assert.equal(v.code, 0, v.out);
    const report = JSON.parse(v.out);
    assert.equal(report.blocks.purged, 1);
    assert.deepEqual(
      report.purged.map((p: { partition: string }) => p.partition),
      [part],
    );
  });

  it('a rewritten tail fails verify --checkpoint and the signatures', async () => {
    const cp = cli('checkpoint');
    assert.equal(cp.code, 0, cp.err);
    const cpFile = join(dir, 'checkpoint.json');
    writeFileSync(cpFile, cp.out);
    assert.equal(cli('verify', '--checkpoint', cpFile).code, 0);
    const t = `"${schema}"`;
    await tamper([
      [
        `DELETE FROM ${t}.audit_logs WHERE block_id IN (SELECT block_id FROM ${t}.audit_blocks WHERE seq = 3)`,
      ],
      [`DELETE FROM ${t}.audit_blocks WHERE seq = 3`],
    ]);
    const forger = await pgStore(schema, null);
    stores.push(forger);
    await forger.append(makeEvents(8));
    const plain = cli('verify');
    assert.equal(plain.code, 0, 'self-consistent without a checkpoint or keys');
    const withCp = cli('verify', '--checkpoint', cpFile);
    assert.equal(withCp.code, 1);
    assert.match(withCp.out, /FIRST BREAK: block 3 differs from the checkpoint/);
    const withKey = cli('verify', '--public-key', pub, '--json');
    assert.equal(withKey.code, 1);
    assert.deepEqual(
      [JSON.parse(withKey.out).firstBreak.kind, JSON.parse(withKey.out).firstBreak.seq],
      ['signature_missing', 3],
    );
  });
});
