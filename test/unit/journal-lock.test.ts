import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, isAuditError } from '../../src/core/errors.js';
import { Journal } from '../../src/journal/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditline-journal-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const LOCK = 'journal.lock';

async function expectLocked(p: Promise<unknown>, pid?: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAuditError(err));
    assert.equal(err.code, ErrorCodes.JOURNAL_LOCKED);
    if (pid !== undefined) assert.equal(err.details?.pid, pid);
    return true;
  });
}

async function exitedPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '']);
  await once(c, 'exit');
  return c.pid!;
}

function writeLock(pid: number, host = hostname()): Promise<void> {
  return writeFile(join(dir, LOCK), JSON.stringify({ pid, hostname: host, token: 'other' }));
}

describe('Journal directory lock', () => {
  it('refuses a second instance in the same process, and frees the lock on close', async () => {
    const a = await Journal.open({ dir });
    await expectLocked(Journal.open({ dir }), process.pid);
    await a.append(['x']);
    await a.close();
    const b = await Journal.open({ dir });
    assert.deepEqual(
      (await b.read())?.records.map((r) => r.payload),
      ['x'],
    );
    await b.close();
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith(LOCK)),
      [],
    );
  });

  it('refuses a lock held by another live process, and recovers it once that process is killed', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const script = `
      import { Journal } from './src/journal/index.ts';
      const j = await Journal.open({ dir: ${JSON.stringify(dir)} });
      await j.append(['from-child']);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const child: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
      assert.equal(chunk.toString().trim(), 'ready');
      await expectLocked(Journal.open({ dir }), child.pid);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    // The killed process left its lock behind; it is stale now, and its records replay.
    const j = await Journal.open({ dir });
    try {
      assert.deepEqual(
        (await j.read())?.records.map((r) => r.payload),
        ['from-child'],
      );
    } finally {
      await j.close();
    }
  });

  it('takes over a stale lock: dead pid, unreadable content, or this pid from an earlier incarnation', async () => {
    for (const make of [
      async () => writeLock(await exitedPid()),
      () => writeFile(join(dir, LOCK), ''),
      () => writeLock(process.pid),
    ]) {
      await make();
      const j = await Journal.open({ dir });
      await j.close();
    }
  });

  it('never takes over a lock written on another host', async () => {
    await writeLock(await exitedPid(), `not-${hostname()}`);
    await expectLocked(Journal.open({ dir }));
  });
});
