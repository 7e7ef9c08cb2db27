/**
 * Exclusive lock on a journal directory, so two processes never append to or replay the same
 * journal (two replayers would each enqueue every record; two writers would interleave
 * segment numbers).
 *
 * The lock file `journal.lock` holds `{ pid, hostname, token }`. It is created atomically
 * with its content: written to a unique temp file, then `link()`ed to the lock path, which
 * fails with EEXIST if the lock exists (same guarantee as O_EXCL, without the window in
 * which another process could read an empty file).
 *
 * A lock is stale, and taken over, when its pid is not alive on this host, when its content
 * is unreadable (a power loss can leave an empty file), or when it names this very pid but
 * this process does not hold it (a restarted container is often pid 1 again). A lock written
 * on another host is never considered stale: we cannot check its pid, so an operator must
 * remove it. Takeover renames the stale file away and re-checks its content, so two
 * processes that find the same stale lock do not both win.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AuditError, ErrorCodes } from '../core/errors.js';

export const LOCK_FILE = 'journal.lock';

/** Lock paths held by this process (to tell our own live lock from a stale same-pid one). */
const heldHere = new Set<string>();

interface LockContent {
  pid: number;
  hostname: string;
  token: string;
}

/** A held lock; `release()` removes the file if it is still ours. */
export interface DirLock {
  readonly path: string;
  release(): Promise<void>;
}

async function readLock(path: string): Promise<LockContent | null | 'missing'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<LockContent>;
    if (typeof v.pid === 'number' && typeof v.hostname === 'string' && typeof v.token === 'string') {
      return v as LockContent;
    }
  } catch {
    // fall through: unreadable content means a crash while the lock was being made durable
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(path: string, c: LockContent | null): boolean {
  if (c === null) return true;
  if (c.hostname !== hostname()) return false;
  if (c.pid === process.pid) return !heldHere.has(path);
  return !pidAlive(c.pid);
}

function lockedError(path: string, c: LockContent | null): AuditError {
  return new AuditError(
    ErrorCodes.JOURNAL_LOCKED,
    `journal directory is in use by another process (pid ${c?.pid ?? '?'} on ${c?.hostname ?? '?'}); ` +
      `lock file ${path}`,
    { details: { path, pid: c?.pid, hostname: c?.hostname } },
  );
}

/**
 * Takes the exclusive lock of journal directory `dir`.
 * @throws AuditError `AUDIT_ERR_JOURNAL_LOCKED` when a live process holds it.
 */
export async function acquireDirLock(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE);
  const mine: LockContent = { pid: process.pid, hostname: hostname(), token: randomBytes(8).toString('hex') };
  const tmp = join(dir, `${LOCK_FILE}.${mine.token}.tmp`);
  await writeFile(tmp, JSON.stringify(mine));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(tmp, path);
        heldHere.add(path);
        return { path, release: () => releaseLock(path, mine.token) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const current = await readLock(path);
      if (current === 'missing') continue;
      if (!isStale(path, current)) throw lockedError(path, current);
      // Rename the stale lock aside and check that what we moved is what we judged stale.
      const aside = join(dir, `${LOCK_FILE}.stale-${mine.token}-${attempt}`);
      try {
        await rename(path, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = await readLock(aside);
      const same =
        moved !== 'missing' &&
        (moved === null ? current === null : current !== null && moved.token === current.token);
      if (!same) {
        // Someone replaced the stale lock with a live one in between: put it back.
        await link(aside, path).catch(() => undefined);
        await unlink(aside).catch(() => undefined);
        throw lockedError(path, moved === 'missing' ? null : moved);
      }
      await unlink(aside).catch(() => undefined);
    }
    throw lockedError(path, null);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Who holds a journal directory's lock, as seen from outside (no lock taken). */
export interface LockHolder {
  pid: number | null;
  hostname: string | null;
  /**
   * True when a live process on this host holds it; false when the lock is stale (its
   * process is gone, or its content is unreadable); null when it was written on another
   * host, whose pids we cannot check.
   */
  live: boolean | null;
}

/** Reads the lock of journal directory `dir` without taking it; null when there is no lock file. */
export async function inspectDirLock(dir: string): Promise<LockHolder | null> {
  const path = join(dir, LOCK_FILE);
  const c = await readLock(path);
  if (c === 'missing') return null;
  if (c === null) return { pid: null, hostname: null, live: false };
  const live =
    c.hostname !== hostname() ? null : c.pid === process.pid ? heldHere.has(path) : pidAlive(c.pid);
  return { pid: c.pid, hostname: c.hostname, live };
}

async function releaseLock(path: string, token: string): Promise<void> {
  heldHere.delete(path);
  const current = await readLock(path);
  if (current !== 'missing' && current !== null && current.token === token) {
    await unlink(path).catch(() => undefined);
  }
}
