/**
 * Embedded mode loses no accepted event when the process is killed: a child logs through
 * `createAuditLogger({ redisUrl: null, databaseUrl: null, dataDir })` with a worker that
 * never flushes, so every event is queued and none committed; it is SIGKILLed mid-stream. A
 * second process opening the same data directory replays the queue journal, and every id
 * whose `log()` resolved (as `queued`, or `spilled`) is in PGlite exactly once.
 *
 * Also: a process cannot open a data directory another live process uses (the queue
 * journal's lock; PGlite has none of its own).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes } from '../../src/core/errors.js';
import { createAuditLogger } from '../../src/index.js';
import { PgliteStore } from '../../src/store/pglite/store.js';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const CHILD = resolve(REPO_ROOT, 'test/fixtures/embedded-crash-child.ts');

interface Child {
  lines: () => string[];
  /** Resolves when a stdout line equals `line`; rejects if the child exits first. */
  waitForLine: (line: string) => Promise<void>;
  kill: (signal: NodeJS.Signals) => void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function runChild(args: string[]): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, REDIS_URL: '', DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  const watchers: { line: string; resolve: () => void }[] = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of watchers.splice(0)) {
      if (out.split('\n').includes(w.line)) w.resolve();
      else watchers.push(w);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal, stderr })),
  );
  return {
    // Only complete lines: a line cut by the kill is not an outcome the child reported.
    lines: () => out.split('\n').slice(0, -1),
    waitForLine: (line) =>
      new Promise<void>((res, rej) => {
        if (out.split('\n').includes(line)) return res();
        watchers.push({ line, resolve: res });
        void exited.then((e) =>
          rej(new Error(`child exited (${e.code ?? e.signal}) before "${line}":\n${stderr}`)),
        );
      }),
    kill: (signal) => child.kill(signal),
    exited,
  };
}

async function storedIds(dataDir: string): Promise<string[]> {
  const store = new PgliteStore({ dataDir });
  try {
    const ids: string[] = [];
    for await (const e of store.scan()) ids.push(e.id);
    return ids;
  } finally {
    await store.close();
  }
}

describe('embedded mode: SIGKILL loses no accepted event', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'auditline-embedded-crash-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every id whose log() resolved is in PGlite exactly once after a restart', {
    timeout: 240_000,
  }, async () => {
    const logging = runChild(['log', dataDir, '1500']);
    await logging.waitForLine('READY');
    logging.kill('SIGKILL');
    const killed = await logging.exited;
    assert.equal(killed.signal, 'SIGKILL');

    const results = logging
      .lines()
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { id: string; outcome: string });
    const accepted = results.filter((r) => r.outcome !== 'dropped').map((r) => r.id);
    assert.ok(results.filter((r) => r.outcome === 'queued').length >= 1500, 'the child had queued events');
    assert.equal(new Set(accepted).size, accepted.length);

    // The worker never flushed: nothing is committed, so all of it has to come back from disk.
    assert.deepEqual(await storedIds(dataDir), []);

    const draining = runChild(['drain', dataDir]);
    await draining.waitForLine('DRAINED');
    assert.equal((await draining.exited).code, 0);

    const stored = await storedIds(dataDir);
    const times = new Map<string, number>();
    for (const id of stored) times.set(id, (times.get(id) ?? 0) + 1);
    const missing = accepted.filter((id) => !times.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${accepted.length} accepted events were lost`);
    assert.deepEqual(
      [...times].filter(([, n]) => n !== 1),
      [],
      'each event is stored exactly once',
    );
    // Events the kill interrupted (written to the journal, log() not yet resolved) may be
    // stored as well; nothing else is.
    assert.ok(stored.length >= accepted.length);
  });

  it('a second process cannot open a data directory in use; it can once the first closes', {
    timeout: 120_000,
  }, async () => {
    const holder = createAuditLogger({ redisUrl: null, databaseUrl: null, dataDir });
    const { outcome } = await holder.log({ event_type: 'lock.test' });
    assert.equal(outcome, 'queued');
    try {
      const refused = runChild(['open', dataDir]);
      const exit = await refused.exited;
      assert.equal(exit.code, 3, exit.stderr);
      assert.deepEqual(refused.lines(), [`ERROR ${ErrorCodes.JOURNAL_LOCKED}`]);
    } finally {
      await holder.close();
    }
    const opened = runChild(['open', dataDir]);
    assert.equal((await opened.exited).code, 0);
    assert.deepEqual(opened.lines(), ['OPENED']);
  });
});
