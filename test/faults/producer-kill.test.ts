/**
 * Fault 4: a producer process SIGKILLed right after `log()` resolved `spilled` (Redis was
 * unreachable). The journal it left is replayed by a new process with the same journal
 * directory: `auditline journal replay`, after `journal status` saw the slot as left by a
 * dead process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LogResult } from '../../src/core/event.js';
import { spawnCli } from '../helpers/processes.js';
import { freePort } from '../helpers/throwaway.js';
import {
  type Cluster,
  Ledger,
  rowCount,
  startCluster,
  startWorker,
  streamLength,
  verifyLedger,
  waitFor,
} from './harness.js';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'spill-producer.ts');
const COUNT = 2000;

describe('fault: producer SIGKILLed right after log() resolved spilled', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster();
  });
  after(() => c?.destroy());

  it('a new process replays the journal the dead one left; every event stored once', async () => {
    const journalDir = join(c.dir, 'producer');
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', FIXTURE, dead, c.pg.url, journalDir, String(COUNT)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const results = await new Promise<LogResult[]>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as LogResult[]);
      });
      child.once('exit', (code) => reject(new Error(`producer exited early (${code}):\n${err}`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const ledger = new Ledger();
    for (const r of results) ledger.record(r);
    assert.equal(ledger.counts.spilled, COUNT, 'every event was spilled');

    const env = { ...c.env, AUDITLINE_JOURNAL_DIR: journalDir };
    const status = spawnCli(['journal', 'status', '--json'], env);
    assert.equal((await status.exited).code, 0, status.output());
    const slots = (
      JSON.parse(status.output()) as { slots: { pendingRecords: number; holder: { live: boolean } | null }[] }
    ).slots;
    assert.equal(slots.length, 1);
    assert.equal(slots[0]?.pendingRecords, COUNT, 'the dead process left every event in its journal');
    assert.equal(slots[0]?.holder?.live, false, 'its lock is stale');

    startWorker(c, 'drain');
    const replay = spawnCli(['journal', 'replay', '--json'], env);
    assert.equal((await replay.exited).code, 0, replay.output());
    const { results: replayed } = JSON.parse(replay.output()) as {
      results: { result: string; moved: number }[];
    };
    assert.deepEqual(
      replayed.map((r) => [r.result, r.moved]),
      [['replayed', COUNT]],
    );
    await waitFor(c, async () => (await rowCount(c)) >= COUNT, 60_000, `${COUNT} rows`);
    await waitFor(c, async () => (await streamLength(c)) === 0, 30_000, 'stream drained');
    const f = await verifyLedger(c, 'producer-kill', ledger);
    assert.equal(f.stored, COUNT);
  });
});
