/**
 * The acknowledgement checkpoint: the position before which every record has been
 * acknowledged. Written to a temp file and renamed over `checkpoint.json`, so a reader sees
 * either the old or the new checkpoint, never a mix.
 *
 * Losing a checkpoint update (a crash before the rename, or a power loss with `fsync:
 * 'never'`) only moves the replay start back: records are replayed again (at-least-once),
 * which is safe because events carry ids and the store inserts idempotently. A missing or
 * unreadable checkpoint therefore means "replay everything still on disk".
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_FILE = 'checkpoint.json';

/** A position in the journal: segment number and byte offset within that segment. */
export interface Position {
  segment: number;
  offset: number;
}

export function comparePositions(a: Position, b: Position): number {
  return a.segment - b.segment || a.offset - b.offset;
}

/** Reads the checkpoint; `null` when absent or unreadable. */
export async function readCheckpoint(dir: string): Promise<Position | null> {
  try {
    const v = JSON.parse(await readFile(join(dir, CHECKPOINT_FILE), 'utf8')) as Partial<Position>;
    if (Number.isSafeInteger(v.segment) && Number.isSafeInteger(v.offset)) {
      return { segment: v.segment as number, offset: v.offset as number };
    }
  } catch {
    // absent or torn: replay from the oldest segment (duplicates only, never loss)
  }
  return null;
}

/** Atomically replaces the checkpoint; fsyncs the data first when `durable`. */
export async function writeCheckpoint(dir: string, pos: Position, durable: boolean): Promise<void> {
  const tmp = join(dir, `${CHECKPOINT_FILE}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(pos));
    if (durable) await fh.datasync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, join(dir, CHECKPOINT_FILE));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
